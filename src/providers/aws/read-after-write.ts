import { readAfterWrite } from '../../ground/read-after-write.js';
import type { AwsClients } from './clients.js';

/** readAfterWrite with the AWS timing: polls as often as state waits do, for at most 5 minutes. */
export function awsReadAfterWrite<T>(aws: AwsClients, what: string, read: () => Promise<T | undefined>): Promise<T> {
  return readAfterWrite(read, {
    what,
    deadlineMs: Math.min(aws.timing.waitTimeoutMs, 5 * 60_000),
    baseMs: aws.timing.pollMs,
    maxMs: aws.timing.maxPollMs,
  });
}

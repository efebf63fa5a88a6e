import { CliError } from './errors.js';
import { retry } from './wait.js';

/**
 * Reads a resource just created. Clouds are eventually consistent: EC2 may answer "not found"
 * (InvalidGroup.NotFound, InvalidInstanceID.NotFound, InvalidAllocationID.NotFound) for seconds
 * after the create that returned the id. `read` returns undefined for "not found"; it is retried
 * with the shared full-jitter backoff until the resource shows or `deadlineMs` passes, which ends
 * in a CliError saying the resource exists and a rerun picks it up. Written once for every cloud.
 */
export interface ReadAfterWriteOptions {
  /** "security group sg-123", for the message */
  what: string;
  deadlineMs: number;
  baseMs: number;
  maxMs: number;
  signal?: AbortSignal;
}

class NotVisibleYet extends Error {}

export async function readAfterWrite<T>(read: () => Promise<T | undefined>, opts: ReadAfterWriteOptions): Promise<T> {
  try {
    return await retry(
      async () => {
        const found = await read();
        if (found === undefined) throw new NotVisibleYet(opts.what);
        return found;
      },
      { retryIf: (e) => e instanceof NotVisibleYet, attempts: 10_000, deadlineMs: opts.deadlineMs, baseMs: opts.baseMs, maxMs: opts.maxMs, ...(opts.signal ? { signal: opts.signal } : {}) },
    );
  } catch (e) {
    if (!(e instanceof NotVisibleYet)) throw e;
    throw new CliError(`${opts.what} was created but the cloud still does not show it after ${Math.round(opts.deadlineMs / 1000)} s`, {
      hint: 'run the command again in a minute: it resumes with the same resource',
    });
  }
}

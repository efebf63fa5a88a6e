/**
 * Usage records of finished calls, waiting in the isolate for a ride to the registry: the next
 * tool call's `admit` carries them (the round trip it makes anyway), so a busy key costs one
 * Durable Object call per tool call, not two. A record no admit took within RIDE_WAIT_MS is sent
 * by the request that queued it (from its own waitUntil), so every record is written once.
 *
 * Only plain data crosses requests here: a request never awaits another request's promise, which
 * workerd cancels when the other request ends.
 */
import type { CallRecord } from './key-registry.js';

/** How long a finished call's usage waits for the next admit before it is sent on its own. */
export const RIDE_WAIT_MS = 50;

const waiting: CallRecord[] = [];

export function queueUsage(records: CallRecord[]): void {
  waiting.push(...records);
}

/** Every waiting record, now owned by the caller (who must send them). */
export function takeUsage(): CallRecord[] {
  return waiting.splice(0);
}

/** After RIDE_WAIT_MS: sends whatever no admit took (including other requests' records). */
export async function sendLeftUsage(send: (records: CallRecord[]) => Promise<unknown>): Promise<void> {
  await new Promise((r) => setTimeout(r, RIDE_WAIT_MS));
  const left = takeUsage();
  if (left.length > 0) await send(left);
}

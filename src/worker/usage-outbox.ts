/**
 * Usage records of finished calls, waiting in the isolate for a ride to the registry: the next
 * tool call's `admit` carries them (the round trip it makes anyway), so a busy key costs one
 * Durable Object call per tool call, not two. A record no admit took within RIDE_WAIT_MS is sent
 * by the request that queued it (from its own waitUntil), so every record is written once.
 *
 * Only plain data crosses requests here: a request never awaits another request's promise, which
 * workerd cancels when the other request ends.
 */
import { sleep } from '../ground/wait.js';
import type { CallRecord } from './key-registry.js';

/** How long a finished call's usage waits for the next admit before it is sent on its own. */
export const RIDE_WAIT_MS = 50;

const waiting = new Set<CallRecord>();

export function queueUsage(records: readonly CallRecord[]): void {
  for (const r of records) waiting.add(r);
}

/** Every waiting record, now owned by the caller (who must send them). */
export function takeUsage(): CallRecord[] {
  const all = [...waiting];
  waiting.clear();
  return all;
}

/**
 * After RIDE_WAIT_MS: sends those of `own` (this request's records) that no admit took. Only its
 * own: each request's wait ends 50 ms after its calls, so with calls every few ms a wait taking
 * everything would catch the newest call's record between its answer and the next admission, and
 * cost an extra registry call on the busy path (a third of sequential calls did).
 */
export async function sendLeftUsage(own: readonly CallRecord[], send: (records: CallRecord[]) => Promise<unknown>): Promise<void> {
  await sleep(RIDE_WAIT_MS);
  const left = own.filter((r) => waiting.delete(r));
  if (left.length > 0) await send(left);
}

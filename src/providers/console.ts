import { runningImageFromConsole } from '../bootstrap/cloud-init.js';
import type { VmStatus } from '../model/deployment.js';

/**
 * The VM's serial console as a cloud's console-output API returns it (EC2 GetConsoleOutput, GCE
 * getSerialPortOutput, Azure boot diagnostics), read without SSH by `logs --boot` and by `status`
 * for the image digest the VM reports.
 */
export interface ConsoleOutput {
  /** the console text from `start` on (raw: may hold secrets the bootstrap echoed; redact before printing) */
  text: string;
  /**
   * Where the next read continues (GCE: a byte offset). Undefined when the cloud only returns its
   * latest window (EC2: the last 64 KB; Azure: the log blob), so a follower must find the overlap.
   */
  next?: number;
  /** the cloud dropped older output than what was asked for (its buffer is bounded) */
  truncated?: boolean;
}

/** What `status` says about the image, from a console read (shared by every cloud). */
export function imageFromConsole(text: string, postsLate: string): NonNullable<VmStatus['image']> {
  const ref = runningImageFromConsole(text);
  if (ref) return { ref };
  return {
    unknown: text ? 'the VM has not reported its image yet (Crawl4AI is still starting)' : `no console output yet (the VM is still booting${postsLate ? `; ${postsLate}` : ''})`,
  };
}

/**
 * The part of `next` that a follower has not printed yet, for clouds that return only their latest
 * window: the window after the longest tail of `previous` that it starts with (the window slides
 * as the VM writes). When nothing overlaps, all of `next` is new.
 */
export function unseenTail(previous: string, next: string): string {
  if (!previous) return next;
  if (next.startsWith(previous)) return next.slice(previous.length);
  // the window slid: find where the end of what we saw sits in the new window
  const probe = previous.slice(-Math.min(previous.length, 256));
  const at = next.lastIndexOf(probe);
  return at === -1 ? next : next.slice(at + probe.length);
}

/**
 * A per-key sliding one-minute window for "N tool calls per minute". A fixed window (calls per
 * clock minute) admits up to 2N across a minute boundary (N at :59, N more at :00); this one
 * admits at most N in ANY 60 s. Calls are counted in one-second slots that remember their latest
 * call, and a slot counts until that call is 60 s old, so the count never misses a call: never
 * over-admits, and at most one second strict (an earlier call of a slot leaves with the latest).
 * A token bucket would not do: with a burst of N and a refill of N per minute it also admits 2N
 * in a minute. Memory: at most 61 slots per limited key.
 */
const SLOT_MS = 1_000;
const WINDOW_MS = 60_000;

export interface RateSlot {
  /** floor(ms / 1000) of the slot's calls */
  sec: number;
  n: number;
  /** ms time of the slot's latest call */
  last: number;
}

export class RateWindow {
  private slots = new Map<number, RateSlot>();
  /** slots added to since takeChanged() (by their sec): only they need writing */
  private changed = new Set<number>();

  constructor(saved: Iterable<RateSlot> = []) {
    for (const s of saved) this.slots.set(s.sec, { ...s });
  }

  /** Drops slots whose every call is 60 s old or more (the same test the stored copy is trimmed by). */
  private prune(nowMs: number): void {
    const expired = RateWindow.expiredBefore(nowMs);
    for (const [sec, s] of this.slots) if (s.last <= expired) this.slots.delete(sec);
  }

  /** Calls counted in the window that ends now. */
  used(nowMs: number): number {
    this.prune(nowMs);
    let n = 0;
    for (const s of this.slots.values()) n += s.n;
    return n;
  }

  /** Seconds until `calls` more fit under `limit` (0 when they fit now). */
  retryAfterSeconds(nowMs: number, limit: number, calls: number): number {
    let over = this.used(nowMs) + calls - limit;
    if (over <= 0) return 0;
    for (const s of [...this.slots.values()].sort((a, b) => a.last - b.last)) {
      over -= s.n;
      if (over <= 0) return Math.max(1, Math.ceil((s.last + WINDOW_MS - nowMs) / 1000));
    }
    return WINDOW_MS / 1000; // more calls than the limit itself never fit
  }

  add(nowMs: number, calls: number): void {
    this.prune(nowMs);
    const sec = Math.floor(nowMs / SLOT_MS);
    const s = this.slots.get(sec);
    if (s) {
      s.n += calls;
      s.last = Math.max(s.last, nowMs);
    } else this.slots.set(sec, { sec, n: calls, last: nowMs });
    this.changed.add(sec);
  }

  /**
   * The live slots added to since the last call, to persist: a stored copy needs only these
   * upserted and the slots whose `last` is WINDOW_MS old or more deleted (expiredBefore), not the
   * whole window (up to 61 rows a key) rewritten.
   */
  takeChanged(nowMs: number): RateSlot[] {
    this.prune(nowMs);
    const out: RateSlot[] = [];
    for (const sec of this.changed) {
      const s = this.slots.get(sec);
      if (s) out.push({ ...s });
    }
    this.changed.clear();
    return out;
  }

  /** A slot whose `last` is at or before this is out of the window: prune drops it, and flush deletes its stored row. */
  static expiredBefore(nowMs: number): number {
    return nowMs - WINDOW_MS;
  }
}

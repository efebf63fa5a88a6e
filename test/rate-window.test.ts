/** The sliding per-minute window of the KeyRegistry, on a clock the test controls. */
import { describe, expect, it } from 'vitest';
import { RateWindow } from '../src/worker/rate-window.ts';

describe('RateWindow: at most N calls in any 60 s', () => {
  it('refuses across a minute boundary what a fixed window would admit (N at :59, N more at :00)', () => {
    const w = new RateWindow();
    const t0 = 10 * 60_000; // a clock minute starts
    w.add(t0 + 59_000, 3);
    // a fixed window resets at t0 + 60 s; the sliding one still counts the three
    expect(w.used(t0 + 60_500)).toBe(3);
    expect(w.retryAfterSeconds(t0 + 60_500, 3, 1)).toBe(59); // the calls at :59 leave the window at t0 + 119 s
    expect(w.used(t0 + 118_999)).toBe(3);
    expect(w.used(t0 + 119_000)).toBe(0);
    expect(w.retryAfterSeconds(t0 + 119_000, 3, 1)).toBe(0);
  });

  it('frees calls slot by slot as they age out, and the retry time names the first moment enough are free', () => {
    const w = new RateWindow();
    w.add(1_000, 2);
    w.add(30_000, 2);
    expect(w.used(59_000)).toBe(4);
    expect(w.retryAfterSeconds(59_000, 4, 1)).toBe(2); // the two at 1 s leave at 61 s
    expect(w.retryAfterSeconds(59_000, 4, 3)).toBe(31); // three need the ones at 30 s gone too: 90 s
    expect(w.used(61_000)).toBe(2);
    expect(w.retryAfterSeconds(61_000, 4, 2)).toBe(0);
  });

  it('never admits more than N in any 60 s window over a long random run', () => {
    const w = new RateWindow();
    const admitted: number[] = [];
    let t = 0;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      t += Math.floor(rand() * 400);
      if (w.used(t) + 1 <= 10) {
        w.add(t, 1);
        admitted.push(t);
      }
    }
    for (let i = 0, j = 0; i < admitted.length; i++) {
      while (admitted[i]! - admitted[j]! >= 60_000) j++;
      expect(i - j + 1).toBeLessThanOrEqual(10);
    }
    expect(admitted.length).toBeGreaterThan(20_000 * 200 / 60_000 * 10 * 0.8); // and it does admit (about 10 a minute)
  });

  it('survives a restart: the persisted slots restore the same count', () => {
    const w = new RateWindow();
    w.add(100_000, 2);
    w.add(130_000, 1);
    const saved = w.takeChanged(140_000);
    expect(saved).toEqual([{ sec: 100, n: 2, last: 100_000 }, { sec: 130, n: 1, last: 130_000 }]);
    expect(new RateWindow(saved).used(140_000)).toBe(3);
    expect(new RateWindow(saved).used(200_000)).toBe(0);
  });

  it('hands out for writing only the slots called in since the last time, and what has left the window', () => {
    const w = new RateWindow();
    for (let s = 0; s < 50; s++) w.add(100_000 + s * 1_000, 1);
    expect(w.takeChanged(150_000)).toHaveLength(50);
    w.add(150_200, 1);
    w.add(150_700, 2);
    // one slot changed (sec 150), not the window of 51 rewritten
    expect(w.takeChanged(151_000)).toEqual([{ sec: 150, n: 3, last: 150_700 }]);
    expect(w.takeChanged(151_000)).toEqual([]);
    // stored slots whose last call is 60 s old are deleted by `last <= expiredBefore(now)`
    expect(RateWindow.expiredBefore(165_000)).toBe(105_000);
    expect(w.used(165_000)).toBe(51 - 6 + 2); // secs 100..105 left; sec 150 holds 3
  });
});

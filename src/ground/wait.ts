import { CliError } from './errors.js';

/**
 * Waiting and retrying, written once for every cloud (docker-machine's MachineInState, not a copy
 * per provider). Delays use exponential backoff with "full jitter" (a random delay in
 * [0, min(max, base * 2^attempt)) as in the AWS Architecture Blog's recommendation), so many
 * clients throttled at once do not retry in lockstep.
 */

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface BackoffOptions {
  /** first delay ceiling in ms (attempt 0) */
  baseMs: number;
  /** upper bound for any single delay in ms */
  maxMs: number;
  /** source of randomness in [0, 1), for tests */
  random?: () => number;
}

/** Full-jitter backoff: a random delay in [0, min(maxMs, baseMs * 2^attempt)), never below 1 ms. */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt));
  const r = (opts.random ?? Math.random)();
  return Math.max(1, Math.floor(ceiling * r));
}

export interface RetryOptions extends Partial<BackoffOptions> {
  /** which errors are worth another try (the others are thrown at once) */
  retryIf: (error: unknown) => boolean;
  /** total tries including the first; default 8 */
  attempts?: number;
  /** give up (throwing the last error) once this many ms have passed since the first try */
  deadlineMs?: number;
  /** called before each pause, e.g. to log "security group still in use, retrying" */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

/**
 * Calls `fn` until it succeeds, an error fails `retryIf`, the attempts are used up or the
 * deadline passes; then the last error is thrown unchanged (callers map it to a CliError).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = opts.attempts ?? 8;
  const backoff: BackoffOptions = { baseMs: opts.baseMs ?? 500, maxMs: opts.maxMs ?? 20_000, random: opts.random };
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!opts.retryIf(e) || attempt + 1 >= attempts) throw e;
      let delay = backoffDelay(attempt, backoff);
      if (opts.deadlineMs !== undefined) {
        const left = opts.deadlineMs - (Date.now() - started);
        if (left <= 0) throw e;
        delay = Math.min(delay, left);
      }
      opts.onRetry?.(e, attempt + 1, delay);
      await sleep(delay, opts.signal);
    }
  }
}

export interface WaitForOptions {
  /** what is awaited, for the timeout message: "instance i-123 to be running" */
  what: string;
  /** pause between checks in ms; grows by `growth` each check up to `maxIntervalMs` */
  intervalMs: number;
  maxIntervalMs?: number;
  /** factor applied to the interval after each check; default 1.5 */
  growth?: number;
  /** give up after this many ms; default 10 minutes */
  timeoutMs?: number;
  /** what to tell the user if it times out */
  hint?: string;
  signal?: AbortSignal;
}

/**
 * Polls `check` until it returns a value other than `undefined`, and returns that value. Errors
 * thrown by `check` propagate (a check that should survive transient errors wraps its call in
 * retry()). A timeout ends in a CliError (exit 1) naming what was awaited.
 */
export async function waitFor<T>(check: () => Promise<T | undefined>, opts: WaitForOptions): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const growth = opts.growth ?? 1.5;
  const maxInterval = opts.maxIntervalMs ?? Math.max(opts.intervalMs, opts.intervalMs * 8);
  const started = Date.now();
  let interval = Math.max(1, opts.intervalMs);
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      throw new CliError(`timed out after ${formatDuration(elapsed)} waiting for ${opts.what}`, {
        hint: opts.hint ?? 'run the command again: it resumes where it stopped',
      });
    }
    await sleep(Math.min(interval, timeoutMs - elapsed), opts.signal);
    interval = Math.min(maxInterval, interval * growth);
  }
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}

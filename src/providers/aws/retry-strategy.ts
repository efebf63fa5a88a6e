import { backoffDelay } from '../../ground/wait.js';

/**
 * The SDK's retry hook (smithy RetryStrategyV2, typed structurally so no transitive package is
 * imported), driven by the shared full-jitter backoff in ground/wait.ts. It retries what the SDK
 * classifies as throttling (RequestLimitExceeded, …) or transient (500/502/503/504, network), honours a
 * Retry-After hint, and never retries client errors. Every retry of a call resends the same
 * parameters, so RunInstances keeps its ClientToken.
 */
interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}
interface RetryErrorInfo {
  error?: { name?: string };
  errorType: 'TRANSIENT' | 'THROTTLING' | 'SERVER_ERROR' | 'CLIENT_ERROR';
  retryAfterHint?: Date;
}

/**
 * HTTP 500s that are answers, not accidents: EC2 reports "no capacity for this type here" as a
 * server error. Retrying within seconds rarely helps; the user is better served by "try another
 * size or region" at once.
 */
export const FINAL_SERVER_ERRORS = ['InsufficientInstanceCapacity', 'InsufficientAddressCapacity', 'InsufficientHostCapacity'];

export interface BackoffRetryStrategyOptions {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

/** The pause before retry `count` + 1: throttling backs off from a larger base than a dropped connection. */
export function retryDelayMs(count: number, throttled: boolean, opts: { baseMs: number; maxMs: number }): number {
  return backoffDelay(count, { baseMs: throttled ? opts.baseMs * 2 : opts.baseMs, maxMs: opts.maxMs });
}

const token = (count: number, delay: number): RetryToken => ({ getRetryCount: () => count, getRetryDelay: () => delay });

export function backoffRetryStrategy(opts: BackoffRetryStrategyOptions) {
  return {
    mode: 'standard',
    async acquireInitialRetryToken(_scope: string): Promise<RetryToken> {
      return token(0, 0);
    },
    async refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
      const count = previous.getRetryCount();
      const final = FINAL_SERVER_ERRORS.includes(info.error?.name ?? '');
      const retryable = !final && (info.errorType === 'THROTTLING' || info.errorType === 'TRANSIENT');
      if (!retryable || count + 1 >= opts.maxAttempts) throw new Error('no retry');
      let delay = retryDelayMs(count, info.errorType === 'THROTTLING', opts);
      if (info.retryAfterHint) delay = Math.max(delay, Math.min(info.retryAfterHint.getTime() - Date.now(), opts.maxMs));
      return token(count + 1, delay);
    },
    recordSuccess(_token: RetryToken): void {},
  };
}

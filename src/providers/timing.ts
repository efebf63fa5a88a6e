import type { ProviderContext } from './provider.js';

/**
 * How long to wait and how fast to retry. A real cloud is polled every few seconds; tests pass a
 * small `ctx.pollMs`, which also shrinks the retry backoff so throttling tests stay quick.
 */
export interface ProviderTiming {
  /** first pause between state checks */
  pollMs: number;
  /** largest pause between state checks */
  maxPollMs: number;
  /** backoff base for retried calls (throttling, eventual consistency, DependencyViolation) */
  retryBaseMs: number;
  /** backoff ceiling for retried calls */
  retryMaxMs: number;
  /** give up waiting for an instance state after this long */
  waitTimeoutMs: number;
  /** give up retrying a resource still in use (security group, static address) after this long */
  dependencyTimeoutMs: number;
  /** the longest one API call may stay unanswered before it is abandoned and retried */
  requestTimeoutMs: number;
}

export function providerTiming(ctx: Pick<ProviderContext, 'pollMs'>): ProviderTiming {
  const pollMs = ctx.pollMs ?? 5_000;
  return {
    pollMs,
    maxPollMs: Math.max(pollMs, Math.min(15_000, pollMs * 4)),
    retryBaseMs: Math.min(500, pollMs),
    retryMaxMs: Math.min(20_000, Math.max(pollMs * 10, 100)),
    waitTimeoutMs: ctx.pollMs === undefined ? 10 * 60_000 : Math.max(30_000, pollMs * 600),
    dependencyTimeoutMs: ctx.pollMs === undefined ? 5 * 60_000 : Math.max(20_000, pollMs * 400),
    requestTimeoutMs: ctx.pollMs === undefined ? 60_000 : Math.max(2_000, pollMs * 20),
  };
}


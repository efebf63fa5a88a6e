import { waitFor } from '../../ground/wait.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, GcpOperationError, gcpCall } from './errors.js';

/**
 * Waiting for Compute operations. A mutation answers an Operation; `operations.wait` returns when
 * it is DONE or after a while (up to 2 minutes) still RUNNING, so it is called in a loop. An
 * operation that ends DONE with an `error` does not throw in the client library: it is turned into
 * a GcpOperationError here (e.g. ZONE_RESOURCE_POOL_EXHAUSTED for a stockout).
 */
export type OperationScope = { zone: string } | { region: string } | { global: true };

interface OperationLike {
  name?: string | null;
  status?: string | number | null;
  error?: { errors?: Array<{ code?: string | null; message?: string | null }> | null } | null;
}

/** The operation a mutation returned: `[op]` where op.latestResponse is the Operation resource. */
export function operationOf(answer: unknown): OperationLike {
  const first = Array.isArray(answer) ? answer[0] : answer;
  const latest = (first as { latestResponse?: OperationLike } | undefined)?.latestResponse ?? (first as OperationLike | undefined);
  return latest ?? {};
}

export async function waitOperation(gcp: GcpClients, answer: unknown, scope: OperationScope, what: string): Promise<void> {
  let op = operationOf(answer);
  const name = op.name;
  if (!name) throw new Error(`Compute answered ${what} without an operation`);
  const c = callContext(gcp, `wait for ${what}`);
  op = await waitFor<OperationLike>(
    async () => {
      if (op.status === 'DONE') return op;
      const [next] = await gcpCall(c, () => waitCall(gcp, scope, name));
      op = next as OperationLike;
      return op.status === 'DONE' ? op : undefined;
    },
    { what, intervalMs: Math.min(gcp.timing.pollMs, 1000), maxIntervalMs: gcp.timing.maxPollMs, timeoutMs: gcp.timing.waitTimeoutMs },
  );
  const err = op.error?.errors?.[0];
  if (err) throw new GcpOperationError(err.code ?? 'UNKNOWN', err.message ?? 'the operation failed');
}

function waitCall(gcp: GcpClients, scope: OperationScope, operation: string): Promise<unknown[]> {
  const project = gcp.project;
  if ('zone' in scope) return gcp.zoneOperations.wait({ project, zone: scope.zone, operation }, CALL_OPTIONS);
  if ('region' in scope) return gcp.regionOperations.wait({ project, region: scope.region, operation }, CALL_OPTIONS);
  return gcp.globalOperations.wait({ project, operation }, CALL_OPTIONS);
}

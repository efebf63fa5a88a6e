/**
 * EC2's eventual consistency after a create: for `consistencyDelayMs` after CreateSecurityGroup or
 * AllocateAddress, lookups of the new id (Describe by id, and the calls that take the id) answer
 * InvalidGroup.NotFound / InvalidAllocationID.NotFound, as the real API may for seconds.
 * (Instances keep their own window in lookupInstances, keyed by Instance.createdAt.)
 */
import type { Ctx } from './context.js';
import type { EmulatorState } from './model.js';

const createdAt = new WeakMap<EmulatorState, Map<string, number>>();

export function markCreated(ctx: Ctx, id: string): void {
  let m = createdAt.get(ctx.state);
  if (!m) createdAt.set(ctx.state, (m = new Map()));
  m.set(id, ctx.now);
}

/** True while `id` is inside the window after its create: a lookup by id must not see it yet. */
export function notVisibleYet(ctx: Ctx, id: string): boolean {
  const at = createdAt.get(ctx.state)?.get(id);
  return at !== undefined && ctx.now - at < ctx.controls.consistencyDelayMs;
}

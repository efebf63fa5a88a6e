import type { DiscoveredResource } from '../model/deployment.js';
import type { Journal } from '../state/journal.js';
import type { ResourceRecord } from '../state/schema.js';

/**
 * The destroy walk every provider that deletes resource by resource shares: for each kind, the
 * ids are the union of the journal's records, what tag / label search found (so it works with the
 * state file gone) and any extra the provider found otherwise (an instance whose create was sent
 * but never journaled). Every id of a kind is deleted in parallel; a failure on one does not stop
 * the others. The kind's records are marked deleting first and deleted only when all went, so a
 * second destroy finishes the job. `finish()` throws the first failure, after every step ran.
 */
export function destroyWalk<K extends string>(
  journal: Journal,
  records: readonly ResourceRecord[],
  discovered: readonly DiscoveredResource[],
  progress: (line: string) => void,
  extra: Partial<Record<K, readonly string[]>> = {},
) {
  const errors: unknown[] = [];
  const ids = (kind: K): string[] => [
    ...new Set([
      ...records.filter((r) => r.kind === kind && r.id).map((r) => r.id!),
      ...discovered.filter((d) => d.kind === kind).map((d) => d.id),
      ...(extra[kind] ?? []),
    ]),
  ];
  return {
    /** Deletes every resource of `kind`; true when none failed. */
    async step(kind: K, remove: (id: string) => Promise<void>, describe: (id: string) => string): Promise<boolean> {
      const mine = records.filter((r) => r.kind === kind);
      for (const r of mine) await journal.deleting(r.key);
      const results = await Promise.allSettled(
        ids(kind).map(async (id) => {
          progress(describe(id));
          await remove(id);
        }),
      );
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      errors.push(...failed.map((f) => f.reason));
      if (failed.length === 0) for (const r of mine) await journal.deleted(r.key);
      return failed.length === 0;
    },
    finish(): void {
      if (errors.length) throw errors[0];
    },
  };
}

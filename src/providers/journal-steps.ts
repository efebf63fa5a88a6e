import { CliError } from '../ground/errors.js';
import type { Journal } from '../state/journal.js';
import type { ResourceRecord } from '../state/schema.js';
import type { VmStatus } from '../model/deployment.js';

/**
 * Journal steps every provider's apply shares (cloud-neutral, so written once).
 */

/** How long after its create a resource's "not found" may be the cloud's read-after-create gap. */
export const READ_AFTER_CREATE_WINDOW_MS = 5 * 60_000;

export interface StillThereOptions<T> {
  /** the resource exists but cannot be reused (e.g. an instance shutting down) */
  usable?: (found: T) => boolean;
  /**
   * For a record created in the last few minutes (a rerun right after Ctrl-C or a crash): read it
   * through the cloud's read-after-write retry, so "not found" inside the consistency gap is not
   * believed (believing it would create a second VM).
   */
  freshRead?: (what: string, read: () => Promise<T | undefined>) => Promise<T | undefined>;
}

/**
 * The journal's record for `key` if it is 'created' and the resource still exists (and is usable).
 * A created record whose resource is gone (deleted by hand) is marked deleted, so the step creates
 * anew.
 */
export async function stillThere<T>(
  journal: Journal,
  key: string,
  describe: (id: string) => Promise<T | undefined>,
  opts: StillThereOptions<T> = {},
): Promise<ResourceRecord | undefined> {
  const rec = journal.find(key);
  if (rec?.phase !== 'created' || !rec.id) return undefined;
  const id = rec.id;
  const young = Date.now() - Date.parse(rec.createdAt) < READ_AFTER_CREATE_WINDOW_MS;
  const found = young && opts.freshRead ? await opts.freshRead(`${rec.kind} ${id}`, () => describe(id)) : await describe(id);
  if (found !== undefined && found !== null && found !== false && (opts.usable?.(found) ?? true)) return rec;
  await journal.deleted(key);
  return undefined;
}

/**
 * A destroy that stopped half-way left records in 'deleting': creating on top of them would mix
 * two lives of the deployment, so apply refuses and says how to finish the destroy.
 */
export function refuseAfterInterruptedDestroy(journal: Journal, kindPrefix: string, deployment: string): void {
  const interrupted = journal.live().find((r) => r.kind.startsWith(kindPrefix) && r.phase === 'deleting');
  if (interrupted) {
    throw new CliError(`a destroy of deployment ${deployment} was interrupted (${interrupted.kind} ${interrupted.id ?? ''})`.trim(), {
      hint: `run crawl4ai-mcp destroy --name ${deployment} to finish it, then init again`,
    });
  }
}

/**
 * Keeps the journal's non-secret facts about the VM current after a power or size change: its
 * machine type (under the cloud's own word for it) and its public address.
 */
export async function rememberVm(journal: Journal, key: string, typeKey: string, status: VmStatus): Promise<VmStatus> {
  const rec = journal.find(key);
  if (rec?.phase === 'created' && rec.id) {
    await journal.created(key, rec.id, { [typeKey]: status.instanceType ?? null, publicIp: status.publicIp ?? null });
  }
  return status;
}

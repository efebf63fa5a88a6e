import { CliError } from '../ground/errors.js';
import type { Journal } from '../state/journal.js';
import type { ResourceRecord } from '../state/schema.js';

/**
 * Journal steps every provider's apply shares (cloud-neutral, so written once).
 *
 * The journal's record for `key` if it is 'created' and the resource still exists. A created
 * record whose resource is gone (deleted by hand) is marked deleted, so the step creates anew.
 */
export async function stillThere(journal: Journal, key: string, exists: (id: string) => Promise<unknown>): Promise<ResourceRecord | undefined> {
  const rec = journal.find(key);
  if (rec?.phase !== 'created' || !rec.id) return undefined;
  if (await exists(rec.id)) return rec;
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

import type { Journal } from '../state/journal.js';
import type { ResourceRecord } from '../state/schema.js';

/**
 * The journal's record for `key` if it is 'created' and the resource still exists. A created
 * record whose resource is gone (deleted by hand) is marked deleted, so the step creates anew.
 * Cloud-neutral: every provider's apply resumes through it.
 */
export async function stillThere(journal: Journal, key: string, exists: (id: string) => Promise<unknown>): Promise<ResourceRecord | undefined> {
  const rec = journal.find(key);
  if (rec?.phase !== 'created' || !rec.id) return undefined;
  if (await exists(rec.id)) return rec;
  await journal.deleted(key);
  return undefined;
}

import type { Journal } from '../../state/journal.js';
import type { ProviderContext } from '../provider.js';
import { releaseAddress } from './address.js';
import type { GcpClients } from './clients.js';
import { discoverResources } from './discover.js';
import { deleteFirewall } from './firewall.js';
import { deleteInstance, getInstance } from './instance.js';
import { instanceId, resourceName, splitInstanceId } from './names.js';
import { GCP_RESOURCE, type GcpResourceKind } from './resources.js';

/**
 * Deletes every Compute resource of the deployment: the union of the journal and what label /
 * name search finds (so it works with the state file gone). Order: instances (the boot disk goes
 * with them), then firewall rules and the static address (which is in use until its VM is gone).
 * Idempotent; a failure on one resource does not stop the others; the first is thrown at the end
 * and the journal keeps what was not deleted, so running destroy again finishes the job.
 */
export async function destroyDeployment(gcp: GcpClients, ctx: ProviderContext, journal: Journal): Promise<void> {
  const deployment = ctx.spec.name;
  const records = journal.live().filter((r) => r.kind.startsWith('gcp:'));
  const discovered = await discoverResources(gcp, deployment);
  // an instance record still in 'intent' has no id, but its zone and name are known
  const intended: string[] = [];
  for (const r of records.filter((x) => x.kind === GCP_RESOURCE.instance && x.phase === 'intent' && typeof x.meta.zone === 'string')) {
    const ref = { zone: String(r.meta.zone), name: resourceName(deployment) };
    if (await getInstance(gcp, ref)) intended.push(instanceId(ref.zone, ref.name));
  }
  const ids = (kind: GcpResourceKind): string[] => [
    ...new Set([
      ...records.filter((r) => r.kind === kind && r.id).map((r) => r.id!),
      ...discovered.filter((d) => d.kind === kind).map((d) => d.id),
      ...(kind === GCP_RESOURCE.instance ? intended : []),
    ]),
  ];
  const errors: unknown[] = [];
  const step = async (kind: GcpResourceKind, remove: (id: string) => Promise<void>, describe: (id: string) => string) => {
    const mine = records.filter((r) => r.kind === kind);
    for (const r of mine) await journal.deleting(r.key);
    const results = await Promise.allSettled(
      ids(kind).map(async (id) => {
        ctx.progress(describe(id));
        await remove(id);
      }),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    errors.push(...failed.map((f) => f.reason));
    if (failed.length === 0) for (const r of mine) await journal.deleted(r.key);
  };

  await step(GCP_RESOURCE.instance, (id) => deleteInstance(gcp, splitInstanceId(id)), (id) => `deleting instance ${id} (and its boot disk)`);
  await step(GCP_RESOURCE.firewall, (name) => deleteFirewall(gcp, name), (name) => `deleting firewall rule ${name}`);
  await step(GCP_RESOURCE.address, (name) => releaseAddress(gcp, name), (name) => `releasing static address ${name}`);
  if (errors.length) throw errors[0];
}

import type { Journal } from '../../state/journal.js';
import { destroyWalk } from '../destroy-steps.js';
import type { ProviderContext } from '../provider.js';
import { releaseAddress } from './address.js';
import type { GcpClients } from './clients.js';
import { discoverResources } from './discover.js';
import { deleteFirewall } from './firewall.js';
import { deleteInstance, getInstance } from './instance.js';
import { instanceId, resourceName, splitInstanceId } from './names.js';
import { GCP_RESOURCE, type GcpResourceKind } from './resources.js';
import { wakeAccountEmail } from './wake-credential.js';
import { deleteGcpWakeKey, noteLegacyWakeAccount, noteLostKey, noteUnjournaledKey } from './wake.js';

/**
 * Deletes every Compute resource of the deployment: the union of the journal and what label /
 * name search finds (so it works with the state file gone). Order: the wake key first (the
 * Worker can no longer start the VM being deleted; the key is found only through the journal, keys
 * carry no labels; the instance's binding goes with the instance), instances (the boot disk goes
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
  await noteLegacyWakeAccount(ctx, journal, gcp.project);
  const lost = records.find((r) => r.kind === GCP_RESOURCE.wakeKey && r.phase === 'intent');
  if (lost) await noteLostKey(gcp, ctx, lost.meta, wakeAccountEmail(gcp.project));
  // no record at all (not one closed by a wake-off run): the state file is gone, or wake was never tried
  if (!journal.find(GCP_RESOURCE.wakeKey)) {
    for (const d of discovered.filter((x) => x.kind === GCP_RESOURCE.instance)) await noteUnjournaledKey(gcp, ctx, splitInstanceId(d.id));
  }
  const { step, finish } = destroyWalk<GcpResourceKind>(journal, records, discovered, ctx.progress, { [GCP_RESOURCE.instance]: intended });

  await step(GCP_RESOURCE.wakeKey, (id) => deleteGcpWakeKey(gcp, id), (id) => `deleting the wake credential (key ${id} of service account ${wakeAccountEmail(gcp.project)})`);
  await step(GCP_RESOURCE.instance, (id) => deleteInstance(gcp, splitInstanceId(id)), (id) => `deleting instance ${id} (and its boot disk)`);
  await step(GCP_RESOURCE.firewall, (name) => deleteFirewall(gcp, name), (name) => `deleting firewall rule ${name}`);
  await step(GCP_RESOURCE.address, (name) => releaseAddress(gcp, name), (name) => `releasing static address ${name}`);
  finish();
}

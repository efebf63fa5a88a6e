import { waitFor } from '../../ground/wait.js';
import type { Journal } from '../../state/journal.js';
import type { ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { lro } from './clients.js';
import { azureCall, getOrUndefined } from './errors.js';
import { findGroups } from './discover.js';
import { removeSelfDeallocate } from './self-deallocate.js';
import { removeWake } from './wake.js';
import { AZURE_RESOURCE, isOurs, resourceNames } from './names.js';

/**
 * Deletes the deployment: the wake identity and its role assignment, the VM's self-deallocate role assignment (found by name), then
 * its resource group, which takes every resource inside with it (VM, OS disk, NIC, NSG, virtual
 * network, public IP), then waits until Azure no longer has the group.
 * Groups come from the journal and from the tags (so it works with the state file gone). A group
 * of the same name that does not carry the deployment's tags is never deleted. Idempotent: a
 * group already gone is fine; the journal keeps its records until the group is gone, so running
 * destroy again after a failure finishes the job.
 */
export async function destroyDeployment(az: AzureClients, ctx: ProviderContext, journal: Journal): Promise<void> {
  const deployment = ctx.spec.name;
  const records = journal.live().filter((r) => r.kind.startsWith('azure:'));
  const own = resourceNames(deployment).group;
  const names = new Set((await findGroups(az, deployment)).map((g) => g.name));
  if (records.some((r) => r.kind === AZURE_RESOURCE.group)) {
    const g = await getOrUndefined({ action: `read resource group ${own}`, location: az.location }, () => az.resources.resourceGroups.get(own));
    if (g && isOurs(g.tags, deployment)) names.add(g.name ?? own);
  }
  for (const r of records) await journal.deleting(r.key);
  // role assignments live outside the group: Azure would keep them after the group is gone. The
  // wake credential goes first, so the Worker can start nothing while the rest is deleted.
  await removeWake(az, ctx, journal);
  await removeSelfDeallocate(az, ctx, journal);
  for (const name of names) {
    ctx.progress(`deleting resource group ${name} and everything in it (this takes a few minutes)`);
    await azureCall({ action: `delete resource group ${name}`, location: az.location }, () => az.resources.resourceGroups.delete(name, lro(az)));
    await waitFor(
      async () => ((await getOrUndefined({ action: `read resource group ${name}`, location: az.location }, () => az.resources.resourceGroups.get(name))) ? undefined : true),
      { what: `resource group ${name} to be deleted`, intervalMs: az.timing.pollMs, timeoutMs: az.timing.waitTimeoutMs },
    );
  }
  for (const r of records) await journal.deleted(r.key);
}

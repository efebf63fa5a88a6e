import type { DiscoveredResource } from '../../model/deployment.js';
import type { AzureClients } from './clients.js';
import { azureCall, isNotFound } from './errors.js';
import { discoverSelfDeallocate } from './self-deallocate.js';
import { discoverWake } from './wake.js';
import { AZURE_RESOURCE, isOurs, KIND_OF_TYPE, scopedId, tagFilter } from './names.js';

export interface FoundGroup {
  name: string;
  id: string;
  location: string;
  state?: string;
}

/** The deployment's resource groups, found by tag (both tags must match: a group someone else tagged by hand is left alone). */
export async function findGroups(az: AzureClients, deployment: string): Promise<FoundGroup[]> {
  return azureCall({ action: 'list resource groups', location: az.location }, async () => {
    const found: FoundGroup[] = [];
    // the SDK follows nextLink
    for await (const g of az.resources.resourceGroups.list({ filter: tagFilter(deployment) })) {
      if (g.name && g.id && isOurs(g.tags, deployment)) found.push({ name: g.name, id: g.id, location: g.location ?? az.location, ...(g.properties?.provisioningState ? { state: g.properties.provisioningState } : {}) });
    }
    return found;
  });
}

/**
 * Every live resource of the deployment, without the state file: its resource groups (by tag)
 * and everything inside them. Resources are listed per group rather than by tag, because a list
 * filtered by tag does not return the resources' tags, and everything this tool makes lives in
 * the deployment's group.
 */
export async function discoverResources(az: AzureClients, deployment: string): Promise<DiscoveredResource[]> {
  const groups = await findGroups(az, deployment);
  const out: DiscoveredResource[] = [];
  for (const g of groups) {
    out.push({ kind: AZURE_RESOURCE.group, id: scopedId(g.id), region: g.location, ...(g.state ? { state: g.state } : {}) });
    try {
      for await (const r of az.resources.resources.listByResourceGroup(g.name)) {
        if (!r.id || !r.type) continue;
        out.push({ kind: KIND_OF_TYPE[r.type.toLowerCase()] ?? `azure:${r.type}`, id: scopedId(r.id), region: r.location ?? g.location });
      }
    } catch (e) {
      if (!isNotFound(e)) throw e; // the group went away between the two lists
    }
  }
  for (const r of [...(await discoverSelfDeallocate(az, deployment)), ...(await discoverWake(az, deployment))]) out.push({ ...r, region: az.location });
  return out;
}

import type { DiscoveredResource } from '../../model/deployment.js';
import { listAddresses } from './address.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall } from './errors.js';
import { regionZones } from './lookups.js';
import { FIREWALL_ROLES, firewallName, instanceId, labelFilter, networkTag } from './names.js';
import { GCP_RESOURCE } from './resources.js';

/**
 * Every live resource of the deployment, found without the state file: instances in each zone of
 * the region and static addresses by label; firewall rules (Compute gives them no labels) by
 * their exact names and the deployment's network tag. Boot disks are labelled too but deleted
 * with their instance, so they are not listed. Lists are paged (pageToken) by the client.
 */
export async function discoverResources(gcp: GcpClients, deployment: string): Promise<DiscoveredResource[]> {
  const region = gcp.region;
  const zones = await regionZones(gcp);
  const filter = labelFilter(deployment);
  const [instances, addresses, firewalls] = await Promise.all([
    Promise.all(
      zones.map((zone) =>
        gcpCall(callContext(gcp, 'instances.list'), async () => {
          const found: DiscoveredResource[] = [];
          for await (const inst of gcp.instances.listAsync({ project: gcp.project, zone, filter }, CALL_OPTIONS)) {
            if (inst.name) found.push({ kind: GCP_RESOURCE.instance, id: instanceId(zone, inst.name), region, state: String(inst.status ?? '') });
          }
          return found;
        }),
      ),
    ).then((lists) => lists.flat()),
    listAddresses(gcp, deployment).then((list) => list.map((a): DiscoveredResource => ({ kind: GCP_RESOURCE.address, id: a.name, region, state: a.status }))),
    gcpCall(callContext(gcp, 'firewalls.list'), async () => {
      const names = new Set(FIREWALL_ROLES.map((r) => firewallName(deployment, r)));
      const found: DiscoveredResource[] = [];
      for await (const fw of gcp.firewalls.listAsync({ project: gcp.project }, CALL_OPTIONS)) {
        if (fw.name && names.has(fw.name) && fw.targetTags?.includes(networkTag(deployment))) found.push({ kind: GCP_RESOURCE.firewall, id: fw.name, region });
      }
      return found;
    }),
  ]);
  return [...instances, ...firewalls, ...addresses];
}

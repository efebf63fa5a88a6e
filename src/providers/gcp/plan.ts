import { estimateMonthly } from '../../pricing/estimate.js';
import type { Plan, PlannedResource } from '../../model/deployment.js';
import type { ProviderContext } from '../provider.js';
import type { GcpClients } from './clients.js';
import { ALLOW_PRIORITY, DENY_PRIORITY } from './firewall.js';
import { BOOT_DISK_GIB, BOOT_DISK_TYPE } from './launch.js';
import { findUbuntuImage, NETWORK, regionZones, requireDefaultNetwork } from './lookups.js';
import { firewallName, resourceName } from './names.js';
import { gcpSize } from './sizes.js';

/** What apply would create in the project and region, and what it costs. Read-only calls only. */
export async function planDeployment(gcp: GcpClients, ctx: ProviderContext): Promise<Plan> {
  const { spec } = ctx;
  const size = gcpSize(spec.size);
  await requireDefaultNetwork(gcp);
  const [image, zones] = await Promise.all([findUbuntuImage(gcp), regionZones(gcp)]);
  const name = resourceName(spec.name);
  const publicMode = spec.network === 'public';
  const resources: PlannedResource[] = [
    {
      kind: 'firewall rule',
      name: firewallName(spec.name, 'denyIngress'),
      detail: `deny all inbound traffic to the VM (priority ${DENY_PRIORITY}, above the default network's default-allow-ssh/rdp/icmp)`,
    },
    ...(publicMode
      ? [
          { kind: 'firewall rule', name: firewallName(spec.name, 'httpsV4'), detail: `allow tcp 443 from any IPv4 address (priority ${ALLOW_PRIORITY}); no SSH` },
          { kind: 'firewall rule', name: firewallName(spec.name, 'httpsV6'), detail: `allow tcp 443 from any IPv6 address (priority ${ALLOW_PRIORITY})` },
          { kind: 'static address', name, detail: 'static external IPv4 address, kept across stop/start, for the HTTPS hostname' },
        ]
      : []),
    {
      kind: 'Compute Engine instance',
      name,
      detail: `${size.instanceType} (${size.vcpus} vCPU, ${size.memoryGiB} GiB) in the first of ${zones.join(', ')} with capacity, ${image.name}, Shielded VM, no service account, project SSH keys blocked`,
    },
    { kind: 'boot disk', name, detail: `${BOOT_DISK_GIB} GiB ${BOOT_DISK_TYPE}, encrypted at rest, deleted with the instance` },
    ...(publicMode ? [] : [{ kind: 'ephemeral external IPv4', name, detail: 'for outbound traffic only (nothing is let in); changes on stop/start' }]),
  ];
  const cost = estimateMonthly({ provider: 'gcp', region: spec.region, size: spec.size, diskGiB: BOOT_DISK_GIB, publicIpv4: true, staticIpv4: publicMode });
  return {
    provider: 'gcp',
    region: spec.region,
    size: spec.size,
    instanceType: size.instanceType,
    vcpus: size.vcpus,
    memoryGiB: size.memoryGiB,
    diskGiB: BOOT_DISK_GIB,
    image: { id: image.id, name: image.name },
    network: { vpc: NETWORK, detail: `project ${gcp.project}, network "${NETWORK}", region ${spec.region} (zones ${zones.join(', ')})` },
    resources,
    cost,
  };
}

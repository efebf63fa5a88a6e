import { estimateMonthly } from '../../pricing/estimate.js';
import type { Plan, PlannedResource } from '../../model/deployment.js';
import type { ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { checkLocation, findUbuntuImage } from './lookups.js';
import { resourceNames } from './names.js';
import { azureSize } from './sizes.js';

/** OS disk: Standard SSD, the size the image asks for rounded up to an E4 tier. */
export const OS_DISK_GIB = 30;
export const OS_DISK_TYPE = 'StandardSSD_LRS';
export const VNET_PREFIX = '10.0.0.0/16';
export const SUBNET_PREFIX = '10.0.0.0/24';

/** What apply would create in the subscription, and what it costs. Read-only calls only. */
export async function planDeployment(az: AzureClients, ctx: ProviderContext): Promise<Plan> {
  const { spec } = ctx;
  const size = azureSize(spec.size);
  await checkLocation(az);
  const image = await findUbuntuImage(az);
  const n = resourceNames(spec.name);
  const publicMode = spec.network === 'public';
  const resources: PlannedResource[] = [
    { kind: 'resource group', name: n.group, detail: `in location ${spec.region}; destroy deletes it with everything inside` },
    {
      kind: 'network security group',
      name: n.nsg,
      detail: publicMode ? 'inbound tcp 443 from the Internet (IPv4 and IPv6) only; no SSH' : 'no inbound allow rule at all (the tunnel connects out); no SSH',
    },
    {
      kind: 'virtual network',
      name: n.vnet,
      detail: publicMode
        ? `${VNET_PREFIX}, one subnet ${SUBNET_PREFIX}; outbound through the VM's public IP`
        : `${VNET_PREFIX}, one subnet ${SUBNET_PREFIX} with default outbound access explicitly on (no public IP, no NAT gateway)`,
    },
    ...(publicMode ? [{ kind: 'public IP address', name: n.publicIp, detail: 'Standard SKU, static IPv4 with a cloudapp.azure.com DNS label, kept while deallocated' }] : []),
    { kind: 'network interface', name: n.nic, detail: publicMode ? 'private IP + the static public IP' : 'private IP only' },
    {
      kind: 'virtual machine',
      name: n.vm,
      detail: `${size.instanceType} (${size.vcpus} vCPU, ${size.memoryGiB} GiB), ${image.name}, no password, no usable SSH key, no managed identity`,
    },
    { kind: 'managed disk', name: n.osDisk, detail: `${OS_DISK_GIB} GiB ${OS_DISK_TYPE} OS disk, encrypted at rest, deleted with the VM` },
  ];
  const cost = estimateMonthly({ provider: 'azure', region: spec.region, size: spec.size, diskGiB: OS_DISK_GIB, publicIpv4: publicMode, staticIpv4: publicMode });
  return {
    provider: 'azure',
    region: spec.region,
    size: spec.size,
    instanceType: size.instanceType,
    vcpus: size.vcpus,
    memoryGiB: size.memoryGiB,
    diskGiB: OS_DISK_GIB,
    image: { id: image.id, name: image.name },
    // (the subscription id is a stored credential value, which output redacts: not named here)
    network: { vpc: n.vnet, subnet: n.subnet, detail: `location ${spec.region}, virtual network ${n.vnet} (${VNET_PREFIX}) in resource group ${n.group}` },
    resources,
    cost,
  };
}

import type { NetworkSecurityGroup, SecurityRule } from '@azure/arm-network';
import type { AzureClients } from './clients.js';
import { lro } from './clients.js';
import { azureCall, getOrUndefined } from './errors.js';
import { deploymentTags, dnsLabel, resourceNames } from './names.js';
import { SUBNET_PREFIX, VNET_PREFIX } from './plan.js';

/**
 * The deployment's network pieces, each one idempotent PUT (Azure names are the idempotency key,
 * so a resumed run PUTs the same thing again). Tags go in every create request.
 */

/**
 * Inbound allow rules for the ports the bootstrap needs: none in tunnel mode (NSG defaults then
 * deny everything from the internet), tcp/443 in public mode. The service tag `Internet` covers
 * IPv4 and IPv6 sources.
 */
export function inboundRules(ports: number[]): SecurityRule[] {
  return ports.map((port, i) => ({
    name: `allow-tcp-${port}`,
    description: 'crawl4ai-mcp: HTTPS to Caddy on the VM',
    protocol: 'Tcp',
    access: 'Allow',
    direction: 'Inbound',
    priority: 100 + i * 10,
    sourceAddressPrefix: 'Internet',
    sourcePortRange: '*',
    destinationAddressPrefix: '*',
    destinationPortRange: String(port),
  }));
}

export async function putNsg(az: AzureClients, deployment: string, ports: number[]): Promise<NetworkSecurityGroup> {
  const n = resourceNames(deployment);
  return azureCall({ action: `create network security group ${n.nsg}`, location: az.location }, () =>
    az.network.networkSecurityGroups.createOrUpdate(n.group, n.nsg, { location: az.location, tags: deploymentTags(deployment), securityRules: inboundRules(ports) }, lro(az)),
  );
}

export const getNsg = (az: AzureClients, deployment: string) => {
  const n = resourceNames(deployment);
  return getOrUndefined({ action: `read network security group ${n.nsg}`, location: az.location }, () => az.network.networkSecurityGroups.get(n.group, n.nsg));
};

/**
 * The virtual network and its one subnet. Outbound internet for tunnel mode: VNets created after
 * 31 March 2026 get private subnets (no default outbound access). A public IP or a NAT gateway
 * (about $32 a month) would be the explicit ways; tunnel mode sets the subnet's
 * `defaultOutboundAccess: true` instead, which Azure keeps supporting for subnets that ask for it,
 * costs nothing, and leaves the VM with no public address at all. Public mode's VM has its own
 * public IP, which is explicit outbound access.
 */
export async function putVnet(az: AzureClients, deployment: string, publicMode: boolean): Promise<{ id: string; subnetId: string }> {
  const n = resourceNames(deployment);
  const vnet = await azureCall({ action: `create virtual network ${n.vnet}`, location: az.location }, () =>
    az.network.virtualNetworks.createOrUpdate(
      n.group,
      n.vnet,
      {
        location: az.location,
        tags: deploymentTags(deployment),
        addressSpace: { addressPrefixes: [VNET_PREFIX] },
        subnets: [{ name: n.subnet, addressPrefix: SUBNET_PREFIX, defaultOutboundAccess: !publicMode }],
      },
      lro(az),
    ),
  );
  const subnetId = vnet.subnets?.find((s) => s.name === n.subnet)?.id ?? `${vnet.id}/subnets/${n.subnet}`;
  return { id: vnet.id!, subnetId };
}

export const getVnet = (az: AzureClients, deployment: string) => {
  const n = resourceNames(deployment);
  return getOrUndefined({ action: `read virtual network ${n.vnet}`, location: az.location }, () => az.network.virtualNetworks.get(n.group, n.vnet));
};

/** Public mode: a Standard static IPv4 with a DNS label, allocated before the VM so its hostname is known at boot. */
export async function putPublicIp(az: AzureClients, deployment: string): Promise<{ id: string; ipAddress: string; fqdn?: string }> {
  const n = resourceNames(deployment);
  const ip = await azureCall({ action: `create public IP address ${n.publicIp}`, location: az.location }, () =>
    az.network.publicIPAddresses.createOrUpdate(
      n.group,
      n.publicIp,
      {
        location: az.location,
        tags: deploymentTags(deployment),
        sku: { name: 'Standard', tier: 'Regional' },
        publicIPAllocationMethod: 'Static',
        publicIPAddressVersion: 'IPv4',
        dnsSettings: { domainNameLabel: dnsLabel(deployment, az.subscriptionId) },
      },
      lro(az),
    ),
  );
  if (!ip.ipAddress) throw new Error(`Azure returned public IP ${n.publicIp} without an address`);
  return { id: ip.id!, ipAddress: ip.ipAddress, ...(ip.dnsSettings?.fqdn ? { fqdn: ip.dnsSettings.fqdn } : {}) };
}

export const getPublicIp = (az: AzureClients, deployment: string) => {
  const n = resourceNames(deployment);
  return getOrUndefined({ action: `read public IP address ${n.publicIp}`, location: az.location }, () => az.network.publicIPAddresses.get(n.group, n.publicIp));
};

export async function putNic(az: AzureClients, deployment: string, refs: { subnetId: string; nsgId: string; publicIpId?: string }): Promise<string> {
  const n = resourceNames(deployment);
  const nic = await azureCall({ action: `create network interface ${n.nic}`, location: az.location }, () =>
    az.network.networkInterfaces.createOrUpdate(
      n.group,
      n.nic,
      {
        location: az.location,
        tags: deploymentTags(deployment),
        networkSecurityGroup: { id: refs.nsgId },
        ipConfigurations: [
          {
            name: 'ipconfig1',
            subnet: { id: refs.subnetId },
            privateIPAllocationMethod: 'Dynamic',
            ...(refs.publicIpId ? { publicIPAddress: { id: refs.publicIpId } } : {}),
          },
        ],
      },
      lro(az),
    ),
  );
  return nic.id!;
}

export const getNic = (az: AzureClients, deployment: string) => {
  const n = resourceNames(deployment);
  return getOrUndefined({ action: `read network interface ${n.nic}`, location: az.location }, () => az.network.networkInterfaces.get(n.group, n.nic));
};

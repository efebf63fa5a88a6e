import { createHash } from 'node:crypto';
import { MANAGED_BY, TAG_DEPLOYMENT, TAG_MANAGED_BY } from '../../model/deployment.js';

/** Journal keys (and DiscoveredResource kinds) of the Azure resources. */
export const AZURE_RESOURCE = {
  group: 'azure:resource-group',
  nsg: 'azure:network-security-group',
  vnet: 'azure:virtual-network',
  publicIp: 'azure:public-ip',
  nic: 'azure:network-interface',
  vm: 'azure:virtual-machine',
  disk: 'azure:disk',
  /** idle auto-stop: the custom role letting the VM deallocate itself, and its assignment to the VM's identity */
  roleDefinition: 'azure:role-definition',
  roleAssignment: 'azure:role-assignment',
  /** wake on request: the Worker's user-assigned identity (its federated credential goes with it) and its role assignment at the VM */
  wakeIdentity: 'azure:wake-identity',
  wakeAssignment: 'azure:wake-role-assignment',
} as const;
export type AzureResourceKind = (typeof AZURE_RESOURCE)[keyof typeof AZURE_RESOURCE];

/** ARM resource types -> our kinds (for discovery by tag). */
export const KIND_OF_TYPE: Readonly<Record<string, AzureResourceKind>> = {
  'microsoft.network/networksecuritygroups': AZURE_RESOURCE.nsg,
  'microsoft.network/virtualnetworks': AZURE_RESOURCE.vnet,
  'microsoft.network/publicipaddresses': AZURE_RESOURCE.publicIp,
  'microsoft.network/networkinterfaces': AZURE_RESOURCE.nic,
  'microsoft.compute/virtualmachines': AZURE_RESOURCE.vm,
  'microsoft.compute/disks': AZURE_RESOURCE.disk,
  'microsoft.managedidentity/userassignedidentities': AZURE_RESOURCE.wakeIdentity,
};

/** One resource group per deployment; every resource inside is named after it. */
export const groupName = (deployment: string) => `crawl4ai-mcp-${deployment}`;

export function resourceNames(deployment: string) {
  const base = groupName(deployment);
  return {
    group: base,
    nsg: `${base}-nsg`,
    vnet: `${base}-vnet`,
    subnet: 'default',
    publicIp: `${base}-ip`,
    nic: `${base}-nic`,
    vm: `${base}-vm`,
    osDisk: `${base}-osdisk`,
    wakeIdentity: `${base}-wake`,
    // Linux computer names: at most 64 characters, letters, digits and hyphens
    computerName: base.slice(0, 63),
  };
}

/**
 * The public IP's DNS label: <label>.<location>.cloudapp.azure.com must be unique in the location,
 * so the deployment name gets a short hash of the subscription (stable across runs, different
 * for two users who pick the same name).
 */
export function dnsLabel(deployment: string, subscriptionId: string): string {
  const h = createHash('sha256').update(`${subscriptionId}/${deployment}`).digest('hex').slice(0, 6);
  return `c4m-${deployment}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 55) + `-${h}`;
}

/** The name Azure gives the public IP: <label>.<location>.cloudapp.azure.com. */
export const publicFqdn = (deployment: string, subscriptionId: string, location: string) => `${dnsLabel(deployment, subscriptionId)}.${location}.cloudapp.azure.com`;

export function deploymentTags(deployment: string): Record<string, string> {
  return { [TAG_DEPLOYMENT]: deployment, [TAG_MANAGED_BY]: MANAGED_BY };
}

export const isOurs = (tags: Record<string, string> | undefined, deployment: string): boolean =>
  tags?.[TAG_DEPLOYMENT] === deployment && tags?.[TAG_MANAGED_BY] === MANAGED_BY;

/** ARM's one tag filter shape (resource and resource group lists). */
export const tagFilter = (deployment: string) => `tagName eq '${TAG_DEPLOYMENT}' and tagValue eq '${deployment.replace(/'/g, "''")}'`;

/**
 * ARM ids without their `/subscriptions/<id>` prefix: what the journal and discovery report.
 * The subscription id is one of the stored credential values, which the state file refuses to
 * hold (and logs redact), and it is known from the credentials anyway.
 */
export const scopedId = (id: string): string => id.replace(/^\/subscriptions\/[^/]+/i, '');

import type { AzureClients } from './clients.js';
import { azureCall } from './errors.js';
import { usageError } from '../../ground/errors.js';

/** Canonical's Ubuntu 24.04 LTS (Noble) server image, Gen2, x64. */
export const UBUNTU = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server' } as const;

export interface ImageChoice {
  /** publisher:offer:sku:version, the URN `az vm image list` prints */
  id: string;
  name: string;
  version: string;
}

/** The newest published version of the Ubuntu LTS image in the location (pinned, so a resumed run creates the same VM). */
export async function findUbuntuImage(az: AzureClients): Promise<ImageChoice> {
  const list = await azureCall({ action: 'list Ubuntu image versions', location: az.location }, () =>
    az.compute.virtualMachineImages.list(az.location, UBUNTU.publisher, UBUNTU.offer, UBUNTU.sku, { top: 5, orderby: 'name desc' }),
  );
  const versions = list.map((v) => v.name).filter((v): v is string => typeof v === 'string');
  const version = versions.sort(compareVersions).at(-1);
  if (!version) throw usageError(`Azure offers no ${UBUNTU.offer} image in ${az.location}`, 'pick another --region');
  return { id: `${UBUNTU.publisher}:${UBUNTU.offer}:${UBUNTU.sku}:${version}`, name: `Ubuntu Server 24.04 LTS (${version})`, version };
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const normalise = (location: string) => location.toLowerCase().replace(/\s+/g, '');

/**
 * Azure has no default network: each deployment brings its own virtual network. What can be
 * missing instead is the location itself, for this subscription: the resource providers list
 * the locations where they offer virtual networks and virtual machines (and say when the
 * subscription is not registered for them), so plan fails early, before anything is created.
 */
export async function checkLocation(az: AzureClients): Promise<void> {
  for (const [namespace, type] of [
    ['Microsoft.Network', 'virtualNetworks'],
    ['Microsoft.Compute', 'virtualMachines'],
  ] as const) {
    const p = await azureCall({ action: `read resource provider ${namespace}`, location: az.location }, () => az.resources.providers.get(namespace));
    if (p.registrationState && p.registrationState !== 'Registered') {
      throw usageError(`the subscription is not registered for ${namespace} (${p.registrationState})`, `run az provider register -n ${namespace} --wait, then try again`);
    }
    const rt = p.resourceTypes?.find((t) => t.resourceType?.toLowerCase() === type.toLowerCase());
    if (!rt?.locations?.some((l) => normalise(l) === normalise(az.location))) {
      throw usageError(`Azure offers no ${type} in location ${az.location} to this subscription`, 'pick another --region (az account list-locations -o table)');
    }
  }
}

import { usageError } from '../../ground/errors.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall, isNotFound } from './errors.js';
import { lastSegment } from './names.js';

/** Ubuntu LTS, newest non-deprecated image of the family, from Canonical's public project. */
export const UBUNTU_PROJECT = 'ubuntu-os-cloud';
export const UBUNTU_FAMILY = 'ubuntu-2404-lts-amd64';
export const NETWORK = 'default';

export interface ImageChoice {
  /** the image's self link (what the boot disk is created from) */
  id: string;
  name: string;
}

export async function findUbuntuImage(gcp: GcpClients): Promise<ImageChoice> {
  const [image] = await gcpCall(callContext(gcp, 'images.getFromFamily'), () =>
    gcp.images.getFromFamily({ project: UBUNTU_PROJECT, family: UBUNTU_FAMILY }, CALL_OPTIONS),
  );
  if (!image.selfLink || !image.name) throw new Error(`Compute answered no image for family ${UBUNTU_FAMILY}`);
  return { id: image.selfLink, name: image.name };
}

/** The project's default network, or a usage error naming the command that creates one. */
export async function requireDefaultNetwork(gcp: GcpClients): Promise<string> {
  try {
    const [net] = await gcpCall(callContext(gcp, 'networks.get', { permission: 'compute.networks.get' }), () =>
      gcp.networks.get({ project: gcp.project, network: NETWORK }, CALL_OPTIONS),
    isNotFound);
    return net.selfLink ?? `global/networks/${NETWORK}`;
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw usageError(
      `project ${gcp.project} has no default network for region ${gcp.region}`,
      `create it: gcloud compute networks create default --subnet-mode=auto --project ${gcp.project}`,
    );
  }
}

/** The zones of the region, in the order an instance is tried in them. */
export async function regionZones(gcp: GcpClients): Promise<string[]> {
  try {
    const [region] = await gcpCall(callContext(gcp, 'regions.get', { permission: 'compute.regions.get' }), () =>
      gcp.regions.get({ project: gcp.project, region: gcp.region }, CALL_OPTIONS),
    isNotFound);
    return (region.zones ?? []).map(lastSegment).sort();
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw usageError(`GCP region "${gcp.region}" does not exist`, 'pick another --region, e.g. us-central1');
  }
}

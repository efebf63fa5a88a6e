import { DEFAULT_DISK_GIB } from '../../pricing/catalog.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall, isAlreadyExists } from './errors.js';
import { NETWORK } from './lookups.js';
import { deploymentLabels, networkTag, resourceName } from './names.js';
import { waitOperation } from './operations.js';

export const BOOT_DISK_GIB = DEFAULT_DISK_GIB;
export const BOOT_DISK_TYPE = 'pd-balanced';

export interface LaunchParams {
  deployment: string;
  zone: string;
  machineType: string;
  /** the image's self link */
  imageId: string;
  /** public mode: the reserved static address */
  natIP?: string;
}

/**
 * The instance as inserted: Shielded VM, no service account (so no Google identity and no token
 * on the metadata server), project-wide SSH keys blocked and no key of its own, legacy metadata
 * endpoints off (only requests with `Metadata-Flavor: Google` are answered), labels on the
 * instance and its boot disk, the deployment's network tag (its firewall rules target it), and
 * an external IPv4 (ephemeral in tunnel mode, for outbound traffic; the static one in public mode).
 */
export function instanceResource(p: LaunchParams, userData: string) {
  const labels = deploymentLabels(p.deployment);
  return {
    name: resourceName(p.deployment),
    machineType: `zones/${p.zone}/machineTypes/${p.machineType}`,
    labels,
    tags: { items: [networkTag(p.deployment)] },
    disks: [
      {
        boot: true,
        autoDelete: true,
        initializeParams: { sourceImage: p.imageId, diskSizeGb: BOOT_DISK_GIB, diskType: `zones/${p.zone}/diskTypes/${BOOT_DISK_TYPE}`, labels },
      },
    ],
    networkInterfaces: [
      { network: `global/networks/${NETWORK}`, accessConfigs: [{ type: 'ONE_TO_ONE_NAT', name: 'External NAT', ...(p.natIP ? { natIP: p.natIP } : {}) }] },
    ],
    metadata: {
      items: [
        { key: 'user-data', value: userData },
        { key: 'block-project-ssh-keys', value: 'true' },
        { key: 'disable-legacy-endpoints', value: 'true' },
      ],
    },
    shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
  };
}

/**
 * instances.insert with the journal's token as requestId (a retried insert is deduplicated), then
 * the zone operation. An instance of this name made by an earlier run (409) is adopted. A stockout
 * surfaces as a GcpOperationError from the operation (the call itself answers 200).
 */
export async function insertInstance(gcp: GcpClients, p: LaunchParams, userData: string, requestId: string, otherSizes: string[]): Promise<void> {
  const c = callContext(gcp, 'instances.insert', { permission: 'compute.instances.create', otherSizes, machineType: p.machineType, zone: p.zone });
  try {
    const answer = await gcpCall(
      c,
      () => gcp.instances.insert({ project: gcp.project, zone: p.zone, requestId, instanceResource: instanceResource(p, userData) }, CALL_OPTIONS),
      isAlreadyExists,
    );
    await waitOperation(gcp, answer, { zone: p.zone }, `creation of instance ${resourceName(p.deployment)} in ${p.zone}`);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}

import type { NetworkMode } from '../../model/deployment.js';

/**
 * The IAM permissions crawl4ai-mcp uses on GCP: exactly those of the custom role in
 * templates/policies/gcp-custom-role.yaml (test/gcp-policy.test.ts keeps the two equal); those the
 * commands cannot do without are checked with projects.testIamPermissions before anything is created.
 *
 * - The Ubuntu image is read from the public `ubuntu-os-cloud` project, which every
 *   authenticated caller may read: no permission in our project is needed for it.
 * - Inserting an instance with labels, metadata and a network tag needs setLabels, setMetadata
 *   and setTags besides create; its boot disk needs disks.create (and disks.delete when the
 *   instance is deleted with it); its external address needs subnetworks.use/useExternalIp.
 * - Firewall rule changes need networks.updatePolicy on the network.
 * - No service account is attached to the VM, so neither iam.serviceAccounts.actAs nor
 *   compute.instances.setServiceAccount is needed.
 */
export const GCP_POLICY_FILE = 'templates/policies/gcp-custom-role.yaml';

/** Read-only calls (plan, status, discover, waits). */
export const GCP_READ_PERMISSIONS = [
  'compute.regions.get',
  'compute.networks.get',
  'compute.instances.get',
  'compute.instances.list',
  // status reads the image digest, and `logs --boot` the bootstrap log, from the serial console
  'compute.instances.getSerialPortOutput',
  'compute.firewalls.get',
  'compute.firewalls.list',
  'compute.zoneOperations.get',
  'compute.globalOperations.get',
  // discover() looks for a stray static address in both modes, and waits on its region operations
  'compute.addresses.list',
  'compute.regionOperations.get',
] as const;

/** The instance and its firewall rules (both network modes). */
export const GCP_VM_PERMISSIONS = [
  'compute.instances.create',
  'compute.instances.setLabels',
  'compute.instances.setMetadata',
  'compute.instances.setTags',
  'compute.instances.start',
  'compute.instances.stop',
  'compute.instances.setMachineType',
  'compute.instances.delete',
  'compute.disks.create',
  'compute.disks.delete',
  'compute.subnetworks.use',
  'compute.subnetworks.useExternalIp',
  'compute.firewalls.create',
  'compute.firewalls.delete',
  'compute.networks.updatePolicy',
] as const;

/** The static address of public mode. */
export const GCP_ADDRESS_PERMISSIONS = [
  'compute.addresses.create',
  'compute.addresses.setLabels',
  'compute.addresses.get',
  'compute.addresses.use',
  'compute.addresses.delete',
] as const;

export const GCP_REQUIRED_PERMISSIONS: readonly string[] = [...GCP_READ_PERMISSIONS, ...GCP_VM_PERMISSIONS, ...GCP_ADDRESS_PERMISSIONS];

/**
 * Wake on request (optional: without them init says `wake on request is off: …` and carries on,
 * so validateCredentials does not require them): the binding of crawl4aiMcpWake to the shared
 * account crawl4ai-mcp-wake on this deployment's instance only (read-modify-write with the
 * policy's etag). No iam.* permission at project level: they would let a leaked key mint keys
 * for any service account of the project (IAM Conditions cannot narrow them by account).
 */
export const GCP_WAKE_INSTALLER_PERMISSIONS = ['compute.instances.getIamPolicy', 'compute.instances.setIamPolicy'] as const;

/**
 * The keys of the shared wake account (templates/policies/gcp-wake-keys-role.yaml, custom role
 * crawl4aiMcpWakeKeys), granted to crawl4ai-mcp's own account on that one service account: a key
 * per deployment, the list (to account for a key whose create answer was lost), the delete.
 */
export const GCP_WAKE_KEYS_ROLE_PERMISSIONS = ['iam.serviceAccountKeys.create', 'iam.serviceAccountKeys.list', 'iam.serviceAccountKeys.delete'] as const;

/** Everything in templates/policies/gcp-custom-role.yaml: what the commands need, and wake on request. */
export const GCP_ROLE_PERMISSIONS: readonly string[] = [...GCP_REQUIRED_PERMISSIONS, ...GCP_WAKE_INSTALLER_PERMISSIONS];

/**
 * The wake credential's own role (templates/policies/gcp-wake-role.yaml, custom role
 * crawl4aiMcpWake), bound on one instance: read its status, start it. The Worker does not wait on
 * the start operation, so no compute.zoneOperations.get.
 */
export const GCP_WAKE_ROLE_PERMISSIONS = ['compute.instances.get', 'compute.instances.start'] as const;

/** What validateCredentials asks testIamPermissions about for a network mode. */
export function permissionsFor(network: NetworkMode): string[] {
  return network === 'public' ? [...GCP_REQUIRED_PERMISSIONS] : [...GCP_READ_PERMISSIONS, ...GCP_VM_PERMISSIONS];
}

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
 * so validateCredentials does not require them). What creating the Worker's wake credential needs:
 * - iam.serviceAccounts.create / get / delete: the one service account per deployment
 *   (c4m-wake-<hash>), found by its name when the state file is gone, deleted by destroy;
 * - iam.serviceAccountKeys.create / list / delete: its key for the Worker, and the old keys a
 *   re-run of init replaces;
 * - compute.instances.getIamPolicy / setIamPolicy: the binding of crawl4aiMcpWake to that
 *   account on this deployment's instance only (read-modify-write with the policy's etag).
 * No iam.serviceAccounts.list (the name is derived) and no project-level setIamPolicy.
 */
export const GCP_WAKE_INSTALLER_PERMISSIONS = [
  'iam.serviceAccounts.create',
  'iam.serviceAccounts.get',
  'iam.serviceAccounts.delete',
  'iam.serviceAccountKeys.create',
  'iam.serviceAccountKeys.list',
  'iam.serviceAccountKeys.delete',
  'compute.instances.getIamPolicy',
  'compute.instances.setIamPolicy',
] as const;

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

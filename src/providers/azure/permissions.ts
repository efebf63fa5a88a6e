/**
 * The Azure RBAC actions crawl4ai-mcp uses: exactly the `Actions` of
 * templates/policies/azure-custom-role.json (test/policies.test.ts keeps the two equal), checked
 * before anything is created against Microsoft.Authorization/permissions of the subscription.
 *
 * The role is assigned at the subscription: every deployment lives in a resource group of its own
 * that the tool creates (and deletes, with everything in it, on destroy), and creating a resource
 * group is a subscription-scope action.
 */
export const AZURE_POLICY_FILE = 'templates/policies/azure-custom-role.json';

/** Reads of plan, status, discover and the validators. */
export const AZURE_READ_ACTIONS = [
  // the pre-create check itself: what the caller may do at the subscription
  'Microsoft.Authorization/permissions/read',
  'Microsoft.Resources/subscriptions/providers/read',
  'Microsoft.Resources/subscriptions/resourceGroups/resources/read',
  'Microsoft.Resources/subscriptions/resourceGroups/read',
  'Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read',
  'Microsoft.Compute/virtualMachines/read',
  // status (the image digest) and `logs --boot` read the serial log of the VM's boot diagnostics
  'Microsoft.Compute/virtualMachines/retrieveBootDiagnosticsData/action',
  'Microsoft.Compute/disks/read',
  'Microsoft.Network/networkSecurityGroups/read',
  'Microsoft.Network/virtualNetworks/read',
  'Microsoft.Network/publicIPAddresses/read',
  'Microsoft.Network/networkInterfaces/read',
  // idle auto-stop and wake on request: find the shared roles by name, and the VM's assignments of them (also for destroy)
  'Microsoft.Authorization/roleDefinitions/read',
  'Microsoft.Authorization/roleAssignments/read',
] as const;

/** Creates and changes (a PUT or PATCH is `write`), and the joins ARM checks when one resource uses another. */
export const AZURE_WRITE_ACTIONS = [
  'Microsoft.Resources/subscriptions/resourceGroups/write',
  'Microsoft.Network/networkSecurityGroups/write',
  'Microsoft.Network/networkSecurityGroups/join/action',
  'Microsoft.Network/virtualNetworks/write',
  'Microsoft.Network/virtualNetworks/subnets/join/action',
  'Microsoft.Network/publicIPAddresses/write',
  'Microsoft.Network/publicIPAddresses/join/action',
  'Microsoft.Network/networkInterfaces/write',
  'Microsoft.Network/networkInterfaces/join/action',
  'Microsoft.Compute/virtualMachines/write',
  'Microsoft.Compute/disks/write',
  // idle auto-stop and wake on request: assign the shared roles to the VM's identity and the wake identity, at the VM's scope
  // (never roleDefinitions/write: the user defines that role once; README's condition limits this write to it)
  'Microsoft.Authorization/roleAssignments/write',
] as const;

/** Power actions (stop means deallocate) and deletes. */
export const AZURE_MANAGE_ACTIONS = [
  'Microsoft.Compute/virtualMachines/start/action',
  'Microsoft.Compute/virtualMachines/deallocate/action',
  'Microsoft.Resources/subscriptions/resourceGroups/delete',
  'Microsoft.Authorization/roleAssignments/delete',
] as const;

/** Needed only for idle auto-stop (the VM's self-deallocate role assignment): not asked for when it is off. */
export const AZURE_IDLE_STOP_ACTIONS: readonly string[] = [
  'Microsoft.Authorization/roleDefinitions/read',
  'Microsoft.Authorization/roleAssignments/read',
  'Microsoft.Authorization/roleAssignments/write',
  'Microsoft.Authorization/roleAssignments/delete',
];

export type AzureAction = (typeof AZURE_READ_ACTIONS)[number] | (typeof AZURE_WRITE_ACTIONS)[number] | (typeof AZURE_MANAGE_ACTIONS)[number];

export const AZURE_REQUIRED_ACTIONS: readonly AzureAction[] = [...AZURE_READ_ACTIONS, ...AZURE_WRITE_ACTIONS, ...AZURE_MANAGE_ACTIONS];

/** The permission whose absence stops a deployment at the VM step (named by errors and the conformance suite). */
export const AZURE_VM_CREATE = 'Microsoft.Compute/virtualMachines/write';

/**
 * Does a set of permissions (Microsoft.Authorization/permissions: a list of {actions, notActions})
 * grant `action`? ARM patterns use `*` as a wildcard, case-insensitively; an action is granted when
 * some entry's actions match it and that same entry's notActions do not.
 */
export function grants(entries: ReadonlyArray<{ actions?: string[]; notActions?: string[] }>, action: string): boolean {
  return entries.some((e) => (e.actions ?? []).some((p) => wildcard(p, action)) && !(e.notActions ?? []).some((p) => wildcard(p, action)));
}

function wildcard(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(action);
}

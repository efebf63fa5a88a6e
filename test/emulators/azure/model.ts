/** The ARM emulator's state: resource groups, resources (generic ARM envelopes) and long-running operations. */

/** An ARM error as the service answers it: `{"error":{"code","message"}}` with an HTTP status. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ResourceGroup {
  id: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  provisioningState: 'Succeeded' | 'Deleting';
}

export type PowerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated';

export interface ArmResource {
  id: string;
  /** e.g. Microsoft.Network/networkSecurityGroups */
  type: string;
  name: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  /** the ARM `properties` object as GET returns it */
  properties: Record<string, any>;
  sku?: Record<string, unknown>;
  zones?: string[];
  /** VMs only: what GET never returns */
  /** serialLog: what the VM wrote to its serial console (the boot diagnostics log blob) */
  /** statusTime: when the VM's last operation finished (the instance view's ProvisioningState time) */
  vm?: { powerState: PowerState; customData?: string; serialLog?: string; statusTime?: string };
  /** a system-assigned managed identity (VMs): its service principal in the tenant */
  identity?: { type: string; principalId: string; tenantId: string };
}

/** Microsoft.Authorization/roleDefinitions: a custom role, stored at the subscription whatever scope it was PUT at. */
export interface RoleDefinition {
  name: string;
  roleName: string;
  description: string;
  permissions: Array<{ actions: string[]; notActions: string[]; dataActions: string[]; notDataActions: string[] }>;
  assignableScopes: string[];
  createdOn: string;
}

/** Microsoft.Authorization/roleAssignments: a role for a principal at a scope (and everything under it). */
export interface RoleAssignment {
  name: string;
  scope: string;
  roleDefinitionName: string;
  principalId: string;
  principalType: string;
  createdOn: string;
}

export interface Operation {
  id: string;
  /** epoch ms at which the operation finishes */
  doneAt: number;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  error?: { code: string; message: string };
  /** applies the operation's effect; an ArmError thrown here makes the operation Failed */
  complete: () => void;
}

export const TYPES = {
  nsg: 'Microsoft.Network/networkSecurityGroups',
  vnet: 'Microsoft.Network/virtualNetworks',
  pip: 'Microsoft.Network/publicIPAddresses',
  nic: 'Microsoft.Network/networkInterfaces',
  vm: 'Microsoft.Compute/virtualMachines',
  disk: 'Microsoft.Compute/disks',
  identity: 'Microsoft.ManagedIdentity/userAssignedIdentities',
} as const;

export const LOCATIONS: Record<string, string> = {
  eastus: 'East US',
  eastus2: 'East US 2',
  westus2: 'West US 2',
  northeurope: 'North Europe',
  westeurope: 'West Europe',
  southeastasia: 'Southeast Asia',
  japaneast: 'Japan East',
};

/** VM sizes the emulator knows (all offered in every location unless a fault says otherwise). */
export const VM_SIZES = ['Standard_B2s', 'Standard_B2ms', 'Standard_B4ms', 'Standard_D2s_v5', 'Standard_B1s'];

/** Canonical's Ubuntu images, newest last; versions sort as strings like the real ones. */
export const IMAGES: Record<string, string[]> = {
  'Canonical/ubuntu-24_04-lts/server': ['24.04.202509090', '24.04.202510010', '24.04.202511200'],
  'Canonical/0001-com-ubuntu-server-jammy/22_04-lts-gen2': ['22.04.202510010'],
};

export class ArmState {
  readonly groups = new Map<string, ResourceGroup>();
  readonly resources = new Map<string, ArmResource>();
  readonly operations = new Map<string, Operation>();
  /** by lower-cased GUID */
  readonly roleDefinitions = new Map<string, RoleDefinition>();
  /** by lower-cased GUID; they outlive the resource they are scoped to (a real habit: deleting a VM or a group leaves them orphaned) */
  readonly roleAssignments = new Map<string, RoleAssignment>();
  /** service principals of managed identities: principalId -> when Entra created it (for the replication delay) */
  readonly principals = new Map<string, { createdAt: number }>();

  constructor(readonly subscriptionId: string) {}

  groupOf(name: string): ResourceGroup | undefined {
    return this.groups.get(name.toLowerCase());
  }

  get(id: string): ArmResource | undefined {
    return this.resources.get(id.toLowerCase());
  }

  put(r: ArmResource): void {
    this.resources.set(r.id.toLowerCase(), r);
  }

  delete(id: string): void {
    this.resources.delete(id.toLowerCase());
  }

  inGroup(group: string): ArmResource[] {
    return [...this.resources.values()].filter((r) => r.resourceGroup.toLowerCase() === group.toLowerCase());
  }

  ofType(type: string): ArmResource[] {
    return [...this.resources.values()].filter((r) => r.type === type);
  }

  resourceId(group: string, type: string, name: string): string {
    return `/subscriptions/${this.subscriptionId}/resourceGroups/${group}/providers/${type}/${name}`;
  }

  /** Finishes every operation whose time has come (state advances lazily, on each request). */
  tick(now: number): void {
    for (const op of [...this.operations.values()].sort((a, b) => a.doneAt - b.doneAt)) {
      if (op.status !== 'InProgress' || op.doneAt > now) continue;
      try {
        op.complete();
        op.status = 'Succeeded';
      } catch (e) {
        if (!(e instanceof ArmError)) throw e;
        op.status = 'Failed';
        op.error = { code: e.code, message: e.message };
      }
    }
  }
}

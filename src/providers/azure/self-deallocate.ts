import { CliError, ExitCode } from '../../ground/errors.js';
import type { Journal } from '../../state/journal.js';
import type { ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { lro } from './clients.js';
import { azureCall, toCliError } from './errors.js';
import { AZURE_RESOURCE, resourceNames, scopedId } from './names.js';
import { actionsBeyond, assignAtVm, findRoleByName, ourAssignments, rest, type ArmItem } from './roles.js';

/**
 * Idle auto-stop on Azure: a VM that powers itself off stays allocated and billed, so the VM gets
 * a system-assigned managed identity and the role "crawl4ai-mcp self-deallocate" (read a VM,
 * deallocate it), assigned at that VM's own scope only: the identity may read and deallocate
 * itself, nothing else. idle-stop.sh takes a token for that identity from IMDS and POSTs
 * .../deallocate. The role is defined once per subscription by the user at set-up
 * (templates/policies/azure-self-deallocate-role.json): the installer never writes role
 * definitions, and its role assignment writes can be limited by an ABAC condition to that one role
 * for service principals (README, Azure set-up).
 */
export const SELF_DEALLOCATE_ACTIONS = ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/deallocate/action'] as const;

export const SELF_DEALLOCATE_ROLE_NAME = 'crawl4ai-mcp self-deallocate';
export const SELF_DEALLOCATE_ROLE_FILE = 'templates/policies/azure-self-deallocate-role.json';

/** The line that creates the shared role, for errors (the README's Azure set-up has the whole sequence). */
export const CREATE_ROLE_COMMAND = `sed "s/{subscriptionId}/$SUB/" ${SELF_DEALLOCATE_ROLE_FILE} > /tmp/c4m-self-deallocate.json && az role definition create --role-definition @/tmp/c4m-self-deallocate.json`;

/**
 * The subscription's "crawl4ai-mcp self-deallocate" role (found by name; the user created it at
 * set-up), or undefined.
 */
export async function findSelfDeallocateRole(az: AzureClients): Promise<ArmItem | undefined> {
  return findRoleByName(az, SELF_DEALLOCATE_ROLE_NAME);
}

/**
 * The shared role, or one clear error naming the command that creates it (before anything is
 * created). A same-named role granting more than read + deallocate is refused: every VM would get it.
 */
export async function requireSelfDeallocateRole(az: AzureClients): Promise<ArmItem> {
  const role = await azureCall({ action: `find the role "${SELF_DEALLOCATE_ROLE_NAME}"`, location: az.location }, () => findSelfDeallocateRole(az));
  if (!role) {
    throw new CliError(`the Azure subscription has no role "${SELF_DEALLOCATE_ROLE_NAME}" (idle auto-stop gives it to the VM)`, {
      hint: `create it once: SUB=$(az account show --query id -o tsv); ${CREATE_ROLE_COMMAND} (README: Azure), or use --idle-stop off`,
      exitCode: ExitCode.credentials,
    });
  }
  const extra = actionsBeyond(role, SELF_DEALLOCATE_ACTIONS);
  if (extra.length) {
    throw new CliError(`the role "${SELF_DEALLOCATE_ROLE_NAME}" grants more than read and deallocate (${extra.join(', ')}); every VM would get that`, {
      hint: `recreate it from ${SELF_DEALLOCATE_ROLE_FILE} (az role definition update)`,
      exitCode: ExitCode.credentials,
    });
  }
  return role;
}

/**
 * Gives the VM its identity (if it was created without one) and assigns it the shared role at the
 * VM's scope, journaled (intend -> PUT -> created). A new identity's service principal takes a
 * while to reach the directory ARM checks (PrincipalNotFound): retried.
 */
export async function ensureSelfDeallocate(az: AzureClients, ctx: ProviderContext, journal: Journal, vm: { id?: string; identity?: { principalId?: string } }): Promise<void> {
  const deployment = ctx.spec.name;
  const n = resourceNames(deployment);
  const where = { action: `let virtual machine ${n.vm} deallocate itself`, location: az.location };
  const vmId = vm.id;
  if (!vmId) throw new CliError(`virtual machine ${n.vm} has no id`);
  const role = await requireSelfDeallocateRole(az);
  let principalId = vm.identity?.principalId;
  if (!principalId) {
    ctx.progress(`giving virtual machine ${n.vm} a managed identity`);
    const updated = await azureCall(where, () => az.compute.virtualMachines.update(n.group, n.vm, { identity: { type: 'SystemAssigned' } }, lro(az)));
    principalId = updated.identity?.principalId;
    if (!principalId) throw new CliError(`Azure gave virtual machine ${n.vm} no managed identity`, { hint: 'run init again' });
  }

  const assignment = journal.find(AZURE_RESOURCE.roleAssignment);
  if (assignment?.phase === 'created' && assignment.meta?.principalId === principalId) return;
  if (assignment?.phase !== 'created') await journal.intend(AZURE_RESOURCE.roleAssignment, AZURE_RESOURCE.roleAssignment, { region: az.location });
  ctx.progress(`assigning role "${SELF_DEALLOCATE_ROLE_NAME}" to the managed identity of virtual machine ${n.vm}, at the VM's own scope`);
  const id = await assignAtVm(az, ctx, { role, principalId, vmId, guidParts: ['self-deallocate', deployment], who: "the VM's identity" }).catch((e: unknown) => {
    throw toCliError(e, where);
  });
  await journal.created(AZURE_RESOURCE.roleAssignment, scopedId(id), { principalId });
}

/** The role assignment at the VM, as discovery reports it (for drift in `status`). The shared role is the user's, not the deployment's. */
export async function discoverSelfDeallocate(az: AzureClients, deployment: string): Promise<Array<{ kind: string; id: string }>> {
  return (await ourAssignments(az, deployment, SELF_DEALLOCATE_ROLE_NAME, false)).map((a) => ({ kind: AZURE_RESOURCE.roleAssignment, id: scopedId(a.id) }));
}

/**
 * destroy: the VM's assignment of the shared role (Azure keeps it after the VM is gone). Found
 * from the deployment's name, so a lost state file is fine. The role itself stays: it is shared.
 */
export async function removeSelfDeallocate(az: AzureClients, ctx: ProviderContext, journal: Journal): Promise<void> {
  const where = { action: `delete the self-deallocate role assignment of deployment ${ctx.spec.name}`, location: az.location };
  const journaled = journal.live().some((r) => r.kind === AZURE_RESOURCE.roleAssignment);
  await azureCall(where, async () => {
    for (const a of await ourAssignments(az, ctx.spec.name, SELF_DEALLOCATE_ROLE_NAME, journaled)) {
      ctx.progress(`deleting role assignment ${a.name}`);
      await rest(az, 'delete', a.id);
    }
  });
}

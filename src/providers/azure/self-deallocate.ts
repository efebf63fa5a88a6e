import { createHash } from 'node:crypto';
import { CliError, ExitCode } from '../../ground/errors.js';
import { retry } from '../../ground/wait.js';
import type { Journal } from '../../state/journal.js';
import type { ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { lro } from './clients.js';
import { azureCall, azureErrorCode, toCliError } from './errors.js';
import { AZURE_RESOURCE, resourceNames, scopedId } from './names.js';

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

const AUTHZ_API_VERSION = '2022-04-01';

/** A stable GUID from `parts` (role definitions and assignments are named by GUID; a rerun PUTs the same one). */
export function stableGuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\n')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16]!, 16) % 4]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface ArmItem {
  id: string;
  name: string;
  properties: { roleName?: string; roleDefinitionId?: string; principalId?: string; scope?: string };
}

/** One REST call through the SDK's pipeline (auth, retries); a non-2xx answer becomes the SDK's RestError. */
async function rest(az: AzureClients, method: 'get' | 'put' | 'delete', url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const req = az.arm.pathUnchecked(url);
  const options = { queryParameters: { 'api-version': AUTHZ_API_VERSION }, ...(body ? { body } : {}) };
  const res = await (method === 'get' ? req.get(options) : method === 'put' ? req.put(options) : req.delete(options));
  const status = Number(res.status);
  if (status >= 300) throw az.restError(res);
  return { status, body: res.body };
}

/** Every item of an ARM list, following nextLink. */
async function listAll(az: AzureClients, url: string, filter?: string): Promise<ArmItem[]> {
  const items: ArmItem[] = [];
  let res = await az.arm.pathUnchecked(url).get({ queryParameters: { 'api-version': AUTHZ_API_VERSION, ...(filter ? { $filter: filter } : {}) } });
  for (let pages = 0; ; pages++) {
    if (res.status !== '200') throw az.restError(res);
    const body = res.body as { value?: ArmItem[]; nextLink?: string };
    items.push(...(body.value ?? []));
    if (!body.nextLink || pages > 100) return items;
    res = await az.arm.pathUnchecked(body.nextLink).get();
  }
}

const subscriptionScope = (az: AzureClients) => `/subscriptions/${az.subscriptionId}`;

/** The line that creates the shared role, for errors (the README's Azure set-up has the whole sequence). */
export const CREATE_ROLE_COMMAND = `sed "s/{subscriptionId}/$SUB/" ${SELF_DEALLOCATE_ROLE_FILE} > /tmp/c4m-self-deallocate.json && az role definition create --role-definition @/tmp/c4m-self-deallocate.json`;

/**
 * The subscription's "crawl4ai-mcp self-deallocate" role (found by name; the user created it at
 * set-up), or undefined.
 */
export async function findSelfDeallocateRole(az: AzureClients): Promise<ArmItem | undefined> {
  const found = await listAll(az, `${subscriptionScope(az)}/providers/Microsoft.Authorization/roleDefinitions`, `roleName eq '${SELF_DEALLOCATE_ROLE_NAME}'`);
  return found.find((d) => d.properties.roleName?.toLowerCase() === SELF_DEALLOCATE_ROLE_NAME.toLowerCase());
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
  const granted = (role.properties as { permissions?: Array<{ actions?: string[] }> }).permissions?.flatMap((p) => p.actions ?? []) ?? [];
  const extra = granted.filter((a) => !(SELF_DEALLOCATE_ACTIONS as readonly string[]).some((x) => x.toLowerCase() === a.toLowerCase()));
  if (extra.length) {
    throw new CliError(`the role "${SELF_DEALLOCATE_ROLE_NAME}" grants more than read and deallocate (${extra.join(', ')}); every VM would get that`, {
      hint: `recreate it from ${SELF_DEALLOCATE_ROLE_FILE} (az role definition update)`,
      exitCode: ExitCode.credentials,
    });
  }
  return role;
}

/** The deployment's VM id, known from its name (so a lost state file is fine). */
const vmIdOf = (az: AzureClients, deployment: string) => {
  const n = resourceNames(deployment);
  return `${subscriptionScope(az)}/resourceGroups/${n.group}/providers/Microsoft.Compute/virtualMachines/${n.vm}`;
};

/**
 * Assignments of `roleId` at the deployment's VM. Listed at the subscription and filtered: the
 * assignment outlives its VM and group, and a list at a deleted group's scope would not find it.
 */
async function assignmentsAtVm(az: AzureClients, deployment: string, roleId: string): Promise<ArmItem[]> {
  const vmId = vmIdOf(az, deployment).toLowerCase();
  const all = await listAll(az, `${subscriptionScope(az)}/providers/Microsoft.Authorization/roleAssignments`);
  return all.filter((a) => a.properties.roleDefinitionId?.toLowerCase() === roleId.toLowerCase() && a.properties.scope?.toLowerCase() === vmId);
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

  const assignGuid = stableGuid(az.subscriptionId, 'self-deallocate', deployment, principalId);
  const assignment = journal.find(AZURE_RESOURCE.roleAssignment);
  if (assignment?.phase === 'created' && assignment.meta?.principalId === principalId) return;
  if (assignment?.phase !== 'created') await journal.intend(AZURE_RESOURCE.roleAssignment, AZURE_RESOURCE.roleAssignment, { region: az.location });
  ctx.progress(`assigning role "${SELF_DEALLOCATE_ROLE_NAME}" to the managed identity of virtual machine ${n.vm}, at the VM's own scope`);
  const id = await retry(
    async () => {
      try {
        const res = await rest(az, 'put', `${vmId}/providers/Microsoft.Authorization/roleAssignments/${assignGuid}`, {
          properties: { roleDefinitionId: role.id, principalId, principalType: 'ServicePrincipal' },
        });
        return String(res.body.id);
      } catch (e) {
        if (azureErrorCode(e) !== 'RoleAssignmentExists') throw e;
        // already there (a rerun, or assigned by hand under another name): record the one that is
        const found = (await assignmentsAtVm(az, deployment, role.id)).find((a) => a.properties.principalId === principalId);
        if (!found) throw e;
        return found.id;
      }
    },
    {
      retryIf: (e) => azureErrorCode(e) === 'PrincipalNotFound',
      attempts: 20,
      baseMs: Math.min(2_000, az.timing.pollMs),
      maxMs: 15_000,
      deadlineMs: 5 * 60_000,
      onRetry: (_e, attempt) => ctx.debug(`azure: the VM's identity is not in the directory yet (PrincipalNotFound), retry ${attempt}`),
    },
  ).catch((e: unknown) => {
    throw toCliError(e, where);
  });
  await journal.created(AZURE_RESOURCE.roleAssignment, scopedId(id), { principalId });
}

/**
 * The VM's assignments of the shared role. A deployer role without Microsoft.Authorization reads
 * (idle auto-stop kept off) cannot look: then there is none of ours, unless journaled.
 */
async function ourAssignments(az: AzureClients, deployment: string, journaled: boolean): Promise<ArmItem[]> {
  try {
    const role = await findSelfDeallocateRole(az);
    return role ? await assignmentsAtVm(az, deployment, role.id) : [];
  } catch (e) {
    if (!journaled && azureErrorCode(e) === 'AuthorizationFailed') return [];
    throw e;
  }
}

/** The role assignment at the VM, as discovery reports it (for drift in `status`). The shared role is the user's, not the deployment's. */
export async function discoverSelfDeallocate(az: AzureClients, deployment: string): Promise<Array<{ kind: string; id: string }>> {
  return (await ourAssignments(az, deployment, false)).map((a) => ({ kind: AZURE_RESOURCE.roleAssignment, id: scopedId(a.id) }));
}

/**
 * destroy: the VM's assignment of the shared role (Azure keeps it after the VM is gone). Found
 * from the deployment's name, so a lost state file is fine. The role itself stays: it is shared.
 */
export async function removeSelfDeallocate(az: AzureClients, ctx: ProviderContext, journal: Journal): Promise<void> {
  const where = { action: `delete the self-deallocate role assignment of deployment ${ctx.spec.name}`, location: az.location };
  const journaled = journal.live().some((r) => r.kind === AZURE_RESOURCE.roleAssignment);
  await azureCall(where, async () => {
    for (const a of await ourAssignments(az, ctx.spec.name, journaled)) {
      ctx.progress(`deleting role assignment ${a.name}`);
      await rest(az, 'delete', a.id);
    }
  });
}

import { createHash } from 'node:crypto';
import { CliError } from '../../ground/errors.js';
import { retry } from '../../ground/wait.js';
import type { Journal } from '../../state/journal.js';
import type { ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { lro } from './clients.js';
import { azureCall, azureErrorCode, toCliError } from './errors.js';
import { AZURE_RESOURCE, resourceNames, scopedId } from './names.js';

/**
 * Idle auto-stop on Azure: a VM that powers itself off stays allocated and billed, so the VM gets
 * a system-assigned managed identity and a custom role that lets it do two things to itself only:
 * read itself and deallocate itself. idle-stop.sh takes a token for that identity from IMDS and
 * POSTs .../deallocate. The role is assignable only at the VM's own scope, and assigned there.
 */
export const SELF_DEALLOCATE_ACTIONS = ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/deallocate/action'] as const;

const AUTHZ_API_VERSION = '2022-04-01';

export const selfDeallocateRoleName = (deployment: string) => `crawl4ai-mcp self-deallocate ${deployment}`;

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
const definitionUrl = (az: AzureClients, scope: string, guid: string) => `${scope}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

/** The deployment's self-deallocate role definitions, found by name (works without the state file). */
async function findDefinitions(az: AzureClients, deployment: string): Promise<ArmItem[]> {
  const name = selfDeallocateRoleName(deployment);
  const found = await listAll(az, `${subscriptionScope(az)}/providers/Microsoft.Authorization/roleDefinitions`, `roleName eq '${name.replace(/'/g, "''")}'`);
  return found.filter((d) => d.properties.roleName === name);
}

/** Role assignments of `definition` visible at `scope` (at it, above it, or below it). */
async function assignmentsOf(az: AzureClients, scope: string, definitionGuid: string): Promise<ArmItem[]> {
  const all = await listAll(az, `${scope}/providers/Microsoft.Authorization/roleAssignments`);
  return all.filter((a) => a.properties.roleDefinitionId?.toLowerCase().endsWith(`/${definitionGuid.toLowerCase()}`));
}

/**
 * Gives the VM its identity (if it was created without one) and the role, journaled:
 * intend -> PUT -> created for the role definition, then for the role assignment. A new identity's
 * service principal takes a while to reach the directory ARM checks (PrincipalNotFound): retried.
 */
export async function ensureSelfDeallocate(az: AzureClients, ctx: ProviderContext, journal: Journal, vm: { id?: string; identity?: { principalId?: string } }): Promise<void> {
  const deployment = ctx.spec.name;
  const n = resourceNames(deployment);
  const where = { action: `let virtual machine ${n.vm} deallocate itself`, location: az.location };
  const vmId = vm.id;
  if (!vmId) throw new CliError(`virtual machine ${n.vm} has no id`);
  let principalId = vm.identity?.principalId;
  if (!principalId) {
    ctx.progress(`giving virtual machine ${n.vm} a managed identity`);
    const updated = await azureCall(where, () => az.compute.virtualMachines.update(n.group, n.vm, { identity: { type: 'SystemAssigned' } }, lro(az)));
    principalId = updated.identity?.principalId;
    if (!principalId) throw new CliError(`Azure gave virtual machine ${n.vm} no managed identity`, { hint: 'run init again' });
  }

  const defGuid = stableGuid(az.subscriptionId, 'self-deallocate', deployment);
  if (journal.find(AZURE_RESOURCE.roleDefinition)?.phase !== 'created') {
    ctx.progress(`creating role "${selfDeallocateRoleName(deployment)}" (read and deallocate this VM only)`);
    await journal.intend(AZURE_RESOURCE.roleDefinition, AZURE_RESOURCE.roleDefinition, { region: az.location });
  }
  // PUT every run: a definition of the same GUID is updated in place (its scope follows the VM)
  const def = await azureCall(where, () =>
    rest(az, 'put', definitionUrl(az, vmId, defGuid), {
      properties: {
        roleName: selfDeallocateRoleName(deployment),
        description: `Lets the crawl4ai-mcp VM of deployment ${deployment} deallocate itself when idle (idle auto-stop). Nothing else.`,
        type: 'CustomRole',
        permissions: [{ actions: [...SELF_DEALLOCATE_ACTIONS], notActions: [], dataActions: [], notDataActions: [] }],
        assignableScopes: [vmId],
      },
    }),
  );
  await journal.created(AZURE_RESOURCE.roleDefinition, scopedId(def.body.id));

  const assignGuid = stableGuid(az.subscriptionId, 'self-deallocate', deployment, principalId);
  const assignment = journal.find(AZURE_RESOURCE.roleAssignment);
  if (assignment?.phase === 'created' && assignment.meta?.principalId === principalId) return;
  if (assignment?.phase !== 'created') await journal.intend(AZURE_RESOURCE.roleAssignment, AZURE_RESOURCE.roleAssignment, { region: az.location });
  ctx.progress(`assigning it to the managed identity of virtual machine ${n.vm}, at the VM's own scope`);
  const id = await retry(
    async () => {
      try {
        const res = await rest(az, 'put', `${vmId}/providers/Microsoft.Authorization/roleAssignments/${assignGuid}`, {
          properties: { roleDefinitionId: def.body.id, principalId, principalType: 'ServicePrincipal' },
        });
        return String(res.body.id);
      } catch (e) {
        if (azureErrorCode(e) !== 'RoleAssignmentExists') throw e;
        // already there (a rerun, or assigned by hand under another name): record the one that is
        const found = (await assignmentsOf(az, vmId, defGuid)).find((a) => a.properties.principalId === principalId);
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
 * A deployer role without Microsoft.Authorization reads (someone who keeps idle auto-stop off and
 * left them out) cannot look for the role: then there is none of ours to find, unless journaled.
 */
async function definitionsOrNone(az: AzureClients, deployment: string, journaled: boolean): Promise<ArmItem[]> {
  try {
    return await findDefinitions(az, deployment);
  } catch (e) {
    if (!journaled && azureErrorCode(e) === 'AuthorizationFailed') return [];
    throw e;
  }
}

/** The role's definition and its assignment at the VM, as discovery reports them (for drift in `status`). */
export async function discoverSelfDeallocate(az: AzureClients, deployment: string): Promise<Array<{ kind: string; id: string }>> {
  const out: Array<{ kind: string; id: string }> = [];
  for (const d of await definitionsOrNone(az, deployment, false)) {
    out.push({ kind: AZURE_RESOURCE.roleDefinition, id: scopedId(d.id) });
    for (const a of await assignmentsOf(az, subscriptionScope(az), d.name)) out.push({ kind: AZURE_RESOURCE.roleAssignment, id: scopedId(a.id) });
  }
  return out;
}

/**
 * destroy: the role's assignments first (Azure keeps them after the VM is gone, and refuses to
 * delete a role that still has some), then the role. Found by name, so a lost state file is fine.
 */
export async function removeSelfDeallocate(az: AzureClients, ctx: ProviderContext, journal: Journal): Promise<void> {
  const where = { action: `delete the self-deallocate role of deployment ${ctx.spec.name}`, location: az.location };
  const journaled = journal.live().some((r) => r.kind === AZURE_RESOURCE.roleDefinition || r.kind === AZURE_RESOURCE.roleAssignment);
  await azureCall(where, async () => {
    for (const d of await definitionsOrNone(az, ctx.spec.name, journaled)) {
      for (const a of await assignmentsOf(az, subscriptionScope(az), d.name)) {
        ctx.progress(`deleting role assignment ${a.name}`);
        await rest(az, 'delete', a.id);
      }
      ctx.progress(`deleting role "${d.properties.roleName}"`);
      await rest(az, 'delete', d.id);
    }
  });
}

/**
 * The Microsoft.Authorization calls shared by the two uses of the user's shared roles (idle
 * auto-stop's "crawl4ai-mcp self-deallocate" for the VM's own identity, wake on request's
 * "crawl4ai-mcp wake" for the Worker's identity): find a role by name, assign it at the
 * deployment's VM to a service principal (journaled by the caller), find and delete those
 * assignments from the deployment's name alone (they outlive the VM and its group).
 */
import { createHash } from 'node:crypto';
import { retry } from '../../ground/wait.js';
import type { ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { azureErrorCode } from './errors.js';
import { resourceNames } from './names.js';

const AUTHZ_API_VERSION = '2022-04-01';

/** A stable GUID from `parts` (role definitions and assignments are named by GUID; a rerun PUTs the same one). */
function stableGuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\n')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16]!, 16) % 4]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface ArmItem {
  id: string;
  name: string;
  properties: { roleName?: string; roleDefinitionId?: string; principalId?: string; scope?: string; permissions?: Array<{ actions?: string[] }> };
}

/** One REST call through the SDK's pipeline (auth, retries); a non-2xx answer becomes the SDK's RestError. */
export async function rest(az: AzureClients, method: 'get' | 'put' | 'delete', url: string, body?: unknown, apiVersion = AUTHZ_API_VERSION): Promise<{ status: number; body: any }> {
  const req = az.arm.pathUnchecked(url);
  const options = { queryParameters: { 'api-version': apiVersion }, ...(body ? { body } : {}) };
  const res = await (method === 'get' ? req.get(options) : method === 'put' ? req.put(options) : req.delete(options));
  const status = Number(res.status);
  if (status >= 300) throw az.restError(res);
  return { status, body: res.body };
}

/** Every item of a Microsoft.Authorization list, following nextLink (at most ~100 pages). */
export async function listAll<T = ArmItem>(az: AzureClients, url: string, filter?: string): Promise<T[]> {
  const items: T[] = [];
  let res = await az.arm.pathUnchecked(url).get({ queryParameters: { 'api-version': AUTHZ_API_VERSION, ...(filter ? { $filter: filter } : {}) } });
  for (let pages = 0; ; pages++) {
    if (res.status !== '200') throw az.restError(res);
    const body = res.body as { value?: T[]; nextLink?: string };
    items.push(...(body.value ?? []));
    if (!body.nextLink || pages > 100) return items;
    res = await az.arm.pathUnchecked(body.nextLink).get();
  }
}

export const subscriptionScope = (az: AzureClients) => `/subscriptions/${az.subscriptionId}`;

/** The subscription's custom role of this name (the user created it at set-up), or undefined. */
export async function findRoleByName(az: AzureClients, roleName: string): Promise<ArmItem | undefined> {
  const found = await listAll(az, `${subscriptionScope(az)}/providers/Microsoft.Authorization/roleDefinitions`, `roleName eq '${roleName}'`);
  return found.find((d) => d.properties.roleName?.toLowerCase() === roleName.toLowerCase());
}

/** The actions `role` grants beyond `allowed` (a same-named role granting more would be given to every VM or Worker). */
export function actionsBeyond(role: ArmItem, allowed: readonly string[]): string[] {
  const granted = role.properties.permissions?.flatMap((p) => p.actions ?? []) ?? [];
  return granted.filter((a) => !allowed.some((x) => x.toLowerCase() === a.toLowerCase()));
}

/** The deployment's VM id, known from its name (so a lost state file is fine). */
export const vmIdOf = (az: AzureClients, deployment: string) => {
  const n = resourceNames(deployment);
  return `${subscriptionScope(az)}/resourceGroups/${n.group}/providers/Microsoft.Compute/virtualMachines/${n.vm}`;
};

/**
 * Assignments of `roleId` at the deployment's VM. Listed at the subscription and filtered: the
 * assignment outlives its VM and group, and a list at a deleted group's scope would not find it.
 */
export async function assignmentsAtVm(az: AzureClients, deployment: string, roleId: string): Promise<ArmItem[]> {
  const vmId = vmIdOf(az, deployment).toLowerCase();
  const all = await listAll(az, `${subscriptionScope(az)}/providers/Microsoft.Authorization/roleAssignments`);
  return all.filter((a) => a.properties.roleDefinitionId?.toLowerCase() === roleId.toLowerCase() && a.properties.scope?.toLowerCase() === vmId);
}

/**
 * Assigns `role` to the service principal `principalId` at the VM `vmId` (a stable GUID from
 * `guidParts`, so a rerun PUTs the same one) and returns the assignment's id. A managed identity
 * just created takes a while to reach the directory ARM checks (PrincipalNotFound): retried. A
 * PUT whose answer was lost is found on the retry's 409 RoleAssignmentExists.
 */
export async function assignAtVm(az: AzureClients, ctx: ProviderContext, a: { role: ArmItem; principalId: string; vmId: string; guidParts: string[]; who: string }): Promise<string> {
  const guid = stableGuid(az.subscriptionId, ...a.guidParts, a.principalId);
  return retry(
    async () => {
      try {
        const res = await rest(az, 'put', `${a.vmId}/providers/Microsoft.Authorization/roleAssignments/${guid}`, {
          properties: { roleDefinitionId: a.role.id, principalId: a.principalId, principalType: 'ServicePrincipal' },
        });
        return String(res.body.id);
      } catch (e) {
        if (azureErrorCode(e) !== 'RoleAssignmentExists') throw e;
        // already there (a rerun, or assigned by hand under another name): record the one that is
        const found = (await assignmentsAtVm(az, ctx.spec.name, a.role.id)).find((x) => x.properties.principalId === a.principalId);
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
      onRetry: (_e, attempt) => ctx.debug(`azure: ${a.who} is not in the directory yet (PrincipalNotFound), retry ${attempt}`),
    },
  );
}

/**
 * The deployment VM's assignments of the role named `roleName`. Credentials without
 * Microsoft.Authorization reads (a feature kept off) cannot look: then there is none of ours,
 * unless journaled.
 */
export async function ourAssignments(az: AzureClients, deployment: string, roleName: string, journaled: boolean): Promise<ArmItem[]> {
  try {
    const role = await findRoleByName(az, roleName);
    return role ? await assignmentsAtVm(az, deployment, role.id) : [];
  } catch (e) {
    if (!journaled && azureErrorCode(e) === 'AuthorizationFailed') return [];
    throw e;
  }
}

import type { ValidationResult } from '../../model/deployment.js';
import type { ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { azureCall } from './errors.js';
import { requireSelfDeallocateRole } from './self-deallocate.js';
import { AZURE_IDLE_STOP_ACTIONS, AZURE_REQUIRED_ACTIONS, grants } from './permissions.js';

const PERMISSIONS_API_VERSION = '2022-04-01';

interface PermissionEntry {
  actions?: string[];
  notActions?: string[];
}

/**
 * PreCreateCheck: Azure has no dry run, but Resource Manager says what the caller may do at a
 * scope (Microsoft.Authorization/permissions: the union of the caller's role assignments). Every action the tool uses is matched against it at the subscription, so a
 * missing permission is named before anything is created. Getting the token proves the
 * credentials (a wrong secret fails here, exit 3).
 */
export async function validateAzureCredentials(az: AzureClients, ctx: ProviderContext): Promise<ValidationResult> {
  const entries = await azureCall({ action: 'read the permissions of the credentials', location: az.location }, () => listPermissions(az));
  const identity = `${az.identity} on subscription ${az.subscriptionId}`;
  ctx.debug(`azure: credentials are ${identity}`);
  // with idle auto-stop off the VM gets no role, so Microsoft.Authorization writes are not needed
  const needed = (ctx.spec.idleStopMinutes ?? 0) > 0 ? AZURE_REQUIRED_ACTIONS : AZURE_REQUIRED_ACTIONS.filter((a) => !AZURE_IDLE_STOP_ACTIONS.includes(a));
  const allowed = needed.filter((a) => grants(entries, a));
  const missing = needed.filter((a) => !grants(entries, a));
  // idle auto-stop assigns the subscription's shared role, which the user creates at set-up: refuse before creating anything
  if ((ctx.spec.idleStopMinutes ?? 0) > 0 && missing.length === 0) await requireSelfDeallocateRole(az);
  return { identity, allowed: [...allowed], missing: [...missing] };
}

async function listPermissions(az: AzureClients): Promise<PermissionEntry[]> {
  const entries: PermissionEntry[] = [];
  let res = await az.arm
    .path('/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/permissions', az.subscriptionId)
    .get({ queryParameters: { 'api-version': PERMISSIONS_API_VERSION } });
  // paged with nextLink like every ARM list
  for (let pages = 0; ; pages++) {
    if (res.status !== '200') throw az.restError(res);
    const body = res.body as { value?: PermissionEntry[]; nextLink?: string };
    entries.push(...(body.value ?? []));
    if (!body.nextLink || pages > 50) return entries;
    res = await az.arm.pathUnchecked(body.nextLink).get();
  }
}

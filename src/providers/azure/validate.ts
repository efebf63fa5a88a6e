import type { ValidationResult } from '../../model/deployment.js';
import type { ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { azureCall } from './errors.js';
import { listAll, subscriptionScope } from './roles.js';
import { requireSelfDeallocateRole } from './self-deallocate.js';
import { AZURE_IDLE_STOP_ACTIONS, AZURE_REQUIRED_ACTIONS, grants } from './permissions.js';

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

/** The caller's permissions at the subscription (the union of its role assignments). */
function listPermissions(az: AzureClients): Promise<PermissionEntry[]> {
  return listAll<PermissionEntry>(az, `${subscriptionScope(az)}/providers/Microsoft.Authorization/permissions`);
}

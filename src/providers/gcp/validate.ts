import type { ValidationResult } from '../../model/deployment.js';
import type { ProviderContext } from '../provider.js';
import { callContext, type GcpClients } from './clients.js';
import { gcpCall, toCliError } from './errors.js';
import { permissionsFor } from './permissions.js';

/**
 * PreCreateCheck: who the credentials are, then Resource Manager's projects.testIamPermissions
 * for exactly the permissions this deployment's commands use. It answers with the subset the
 * caller holds, so what is missing is named before anything is created. The compute package has
 * no client for it, so it is one REST call with the same credentials.
 */
export async function validateGcpCredentials(gcp: GcpClients, ctx: ProviderContext): Promise<ValidationResult> {
  const asked = permissionsFor(ctx.spec.network);
  const c = callContext(gcp, 'projects.testIamPermissions');
  const token = await gcp.accessToken().catch((e: unknown) => {
    throw toCliError(e, c);
  });
  // the same retries as every Compute call (429, 5xx, no answer), through gcpCall
  const body = await gcpCall(c, async () => {
    const res = await fetch(`${gcp.resourceManagerUrl}/v1/projects/${encodeURIComponent(gcp.project)}:testIamPermissions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ permissions: asked }),
    });
    const json = (await res.json().catch(() => ({}))) as { permissions?: string[]; error?: { message?: string; errors?: Array<{ reason?: string }> } };
    if (!res.ok) throw Object.assign(new Error(json.error?.message ?? `HTTP ${res.status}`), { httpStatusCode: res.status, reason: json.error?.errors?.[0]?.reason });
    return json;
  });
  const granted = new Set(body.permissions ?? []);
  ctx.debug(`gcp: credentials are ${gcp.identity} in project ${gcp.project}`);
  return { identity: gcp.identity, allowed: asked.filter((p) => granted.has(p)), missing: asked.filter((p) => !granted.has(p)) };
}

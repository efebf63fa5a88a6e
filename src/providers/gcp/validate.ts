import type { ValidationResult } from '../../model/deployment.js';
import type { ProviderContext } from '../provider.js';
import { callContext, type GcpClients } from './clients.js';
import { gcpCall, toCliError } from './errors.js';
import { permissionsFor } from './permissions.js';
import { restCall } from './rest.js';

/**
 * PreCreateCheck: who the credentials are, then Resource Manager's projects.testIamPermissions
 * for exactly the permissions this deployment's commands use. It answers with the subset the
 * caller holds, so what is missing is named before anything is created. The compute package has
 * no client for it, so it is one REST call with the same credentials.
 */
export async function validateGcpCredentials(gcp: GcpClients, ctx: ProviderContext): Promise<ValidationResult> {
  const asked = permissionsFor(ctx.spec.network);
  const c = callContext(gcp, 'projects.testIamPermissions');
  await gcp.accessToken().catch((e: unknown) => {
    throw toCliError(e, c);
  });
  // the same retries as every Compute call (429, 5xx, no answer), through gcpCall
  const body = await gcpCall(c, () =>
    restCall<{ permissions?: string[] }>(gcp, 'POST', `${gcp.resourceManagerUrl}/v1/projects/${encodeURIComponent(gcp.project)}:testIamPermissions`, { permissions: asked }),
  );
  const granted = new Set(body.permissions ?? []);
  ctx.debug(`gcp: credentials are ${gcp.identity} in project ${gcp.project}`);
  return { identity: gcp.identity, allowed: asked.filter((p) => granted.has(p)), missing: asked.filter((p) => !granted.has(p)) };
}

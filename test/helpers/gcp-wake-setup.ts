// The one-time GCP set-up of README "GCP set-up" for wake on request, as the project owner runs it
// with gcloud: the two custom roles, the shared account crawl4ai-mcp-wake, and the grant of
// crawl4aiMcpWakeKeys to crawl4ai-mcp's own account on that one service account.
import { GCP_WAKE_KEYS_ROLE_PERMISSIONS, GCP_WAKE_ROLE_PERMISSIONS } from '../../src/providers/gcp/permissions.js';
import { WAKE_ACCOUNT_ID, WAKE_KEYS_ROLE_ID, wakeRoleName } from '../../src/providers/gcp/wake-credential.js';
import type { GceEmulator } from '../emulators/gce/index.js';

export const wakeKeysRoleName = (project: string) => `projects/${project}/roles/${WAKE_KEYS_ROLE_ID}`;

/** Returns the shared account's email. */
export function setUpGcpWake(emu: GceEmulator): string {
  emu.iam.roles.set(wakeRoleName(emu.project), new Set(GCP_WAKE_ROLE_PERMISSIONS));
  emu.iam.roles.set(wakeKeysRoleName(emu.project), new Set(GCP_WAKE_KEYS_ROLE_PERMISSIONS));
  const email = emu.iam.createAccountAsOwner(WAKE_ACCOUNT_ID, 'crawl4ai-mcp wake (start only)');
  const installer = (JSON.parse(emu.serviceAccountKey) as { client_email: string }).client_email;
  emu.iam.setAccountPolicy(email, [{ role: wakeKeysRoleName(emu.project), members: [`serviceAccount:${installer}`] }]);
  return email;
}

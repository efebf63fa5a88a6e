/**
 * Wake on request, the installer's half on GCP: the journaled create of the Worker's wake
 * credential during init, and its delete during destroy (wake-credential.ts holds the calls).
 */
import { registerSecret } from '../../ground/redact.js';
import type { Journal } from '../../state/journal.js';
import type { ProviderContext, WakeCredential } from '../provider.js';
import type { GcpClients } from './clients.js';
import { toCliError } from './errors.js';
import type { InstanceRef } from './instance.js';
import { GCP_POLICY_FILE } from './permissions.js';
import { GCP_RESOURCE } from './resources.js';
import {
  bindWakeRole,
  createWakeAccount,
  deleteWakeAccount,
  deniedPermission,
  findWakeAccount,
  GCP_WAKE_ROLE_FILE,
  isKeyCreationDisabled,
  isRoleMissing,
  issueWakeKey,
  WAKE_ROLE_ID,
  WAKE_SECRET_NAMES,
  wakeAccountEmail,
} from './wake-credential.js';

/** The Worker's plain vars, known before the VM exists: only which cloud (the instance's zone comes with the secrets). */
export const gcpWakeVars = (): Record<string, string> => ({ WAKE_CLOUD: 'gcp' });

/**
 * Creates (or adopts) the wake service account, binds the wake role on this instance only and
 * issues a fresh key, journaled as `gcp:wake-account` before the first IAM call, so a failed init
 * or a lost state still leaves it findable (by its derived name). When the project refuses (the
 * installer's role predates wake on request, the one-time wake role is missing, or an org policy
 * forbids keys) wake stays off with one line saying how to enable it, and nothing is left behind.
 */
export async function issueGcpWakeCredential(gcp: GcpClients, ctx: ProviderContext, journal: Journal, ref: InstanceRef): Promise<WakeCredential | undefined> {
  const deployment = ctx.spec.name;
  const email = wakeAccountEmail(deployment, gcp.project);
  if (journal.find(GCP_RESOURCE.wakeAccount)?.phase !== 'created') {
    // notTagged: service accounts carry no labels; found by their derived name instead
    await journal.intend(GCP_RESOURCE.wakeAccount, GCP_RESOURCE.wakeAccount, { meta: { notTagged: true, email } });
  }
  ctx.progress(`creating the wake credential (service account ${email}: may start instance ${ref.name} and nothing else)`);
  let made = false;
  try {
    made = await createWakeAccount(gcp, deployment);
    await journal.created(GCP_RESOURCE.wakeAccount, email, { notTagged: true });
    await bindWakeRole(gcp, ref, email, gcp.timing.dependencyTimeoutMs);
    const key = await issueWakeKey(gcp, email, gcp.timing.dependencyTimeoutMs);
    registerSecret(key.json);
    registerSecret((JSON.parse(key.json) as { private_key?: string }).private_key);
    return {
      vars: gcpWakeVars(),
      secrets: { [WAKE_SECRET_NAMES.key]: key.json, [WAKE_SECRET_NAMES.instance]: `projects/${gcp.project}/zones/${ref.zone}/instances/${ref.name}` },
    };
  } catch (e) {
    const why = offReason(e, gcp.project);
    if (!why) throw toCliError(e, { action: 'creating the wake credential', project: gcp.project, region: gcp.region });
    // leave nothing behind: the account this run made (or an earlier run's, which is useless now)
    if (made || (await findWakeAccount(gcp, deployment).catch(() => undefined))) {
      try {
        await deleteWakeAccount(gcp, email);
      } catch (d) {
        ctx.debug(`gcp: could not delete ${email} after wake was refused; destroy deletes it: ${String(d)}`);
        ctx.progress(`wake on request is off: ${why}`);
        return undefined;
      }
    }
    await journal.deleted(GCP_RESOURCE.wakeAccount);
    ctx.progress(`wake on request is off: ${why}`);
    return undefined;
  }
}

/** Why the project refuses the wake credential and how to enable it, or undefined for any other failure. */
function offReason(e: unknown, project: string): string | undefined {
  const tail = 'and run init again; meanwhile start a stopped VM with crawl4ai-mcp start';
  const perm = deniedPermission(e);
  if (perm) return `the GCP credentials lack ${perm} (update the role crawl4aiMcp from ${GCP_POLICY_FILE}: gcloud iam roles update crawl4aiMcp --project ${project} --file ${GCP_POLICY_FILE}) ${tail}`;
  if (isRoleMissing(e)) return `the custom role ${WAKE_ROLE_ID} does not exist in project ${project} (create it once: gcloud iam roles create ${WAKE_ROLE_ID} --project ${project} --file ${GCP_WAKE_ROLE_FILE}) ${tail}`;
  if (isKeyCreationDisabled(e)) return `the organization policy constraints/iam.disableServiceAccountKeyCreation forbids service-account keys in project ${project} (an organization policy administrator can exempt this project) ${tail}`;
  return undefined;
}

/**
 * The wake account to delete beyond the journal's: found by its derived name, so destroy works
 * with the state file gone. Credentials that may not read service accounts (a role from before
 * wake on request) made none, unless the journal says otherwise.
 */
export async function wakeAccountsToDelete(gcp: GcpClients, ctx: ProviderContext, journal: Journal): Promise<string[]> {
  try {
    const email = await findWakeAccount(gcp, ctx.spec.name);
    return email ? [email] : [];
  } catch (e) {
    if (journal.find(GCP_RESOURCE.wakeAccount) || deniedPermission(e)) {
      ctx.debug('gcp: iam.serviceAccounts.get failed; deleting only a journaled wake account');
      return [];
    }
    throw toCliError(e, { action: 'serviceAccounts.get', project: gcp.project, region: gcp.region });
  }
}

export const deleteGcpWakeAccount = (gcp: GcpClients, email: string) => deleteWakeAccount(gcp, email);

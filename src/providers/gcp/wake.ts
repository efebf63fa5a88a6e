/**
 * Wake on request, the installer's half on GCP: the journaled key of the shared wake account made
 * during init, and its delete during destroy (wake-credential.ts holds the calls).
 */
import { registerSecret } from '../../ground/redact.js';
import type { Journal } from '../../state/journal.js';
import type { ProviderContext, WakeCredential } from '../provider.js';
import type { GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpErrorInfo, toCliError } from './errors.js';
import { getInstance, type InstanceRef } from './instance.js';
import { GCP_POLICY_FILE } from './permissions.js';
import { GCP_RESOURCE } from './resources.js';
import {
  bindWakeRole,
  createWakeKey,
  deleteWakeKey,
  deniedPermission,
  GCP_WAKE_KEYS_ROLE_FILE,
  GCP_WAKE_ROLE_FILE,
  isKeyCreationDisabled,
  isKeyLimit,
  isRoleMissing,
  listWakeKeys,
  WAKE_ACCOUNT_ID,
  WAKE_KEYS_ROLE_ID,
  WAKE_ROLE_ID,
  WAKE_SECRET_NAMES,
  wakeAccountEmail,
  type WakeKey,
} from './wake-credential.js';

/** The Worker's plain vars, known before the VM exists: only which cloud (the instance's zone comes with the secrets). */
export const gcpWakeVars = (): Record<string, string> => ({ WAKE_CLOUD: 'gcp' });

const KEY = GCP_RESOURCE.wakeKey;

/**
 * Issues this deployment's key of the shared wake account and binds crawl4aiMcpWake to the account
 * on this instance only. The key is journaled (`gcp:wake-key`, its id: not secret) before the
 * create call, with the account's key ids as they were, and with its own id after; a re-run deletes
 * the previous key first (so replacing never needs an 11th key). When the project refuses (no
 * shared account or no right on it, the one-time wake role missing, an org policy forbidding keys,
 * the account's 10 keys taken) wake stays off with one line saying how to enable it, and nothing
 * this run made is left behind.
 */
export async function issueGcpWakeCredential(gcp: GcpClients, ctx: ProviderContext, journal: Journal, ref: InstanceRef): Promise<WakeCredential | undefined> {
  const email = wakeAccountEmail(gcp.project);
  ctx.progress(`creating the wake credential (a key of service account ${email}, bound to start instance ${ref.name} and nothing else)`);
  await noteLegacyWakeAccount(ctx, journal, gcp.project);
  let key: WakeKey | undefined;
  try {
    await retirePreviousKey(gcp, ctx, journal, email);
    const before = await listWakeKeys(gcp, email);
    // notTagged: keys carry no labels; only the journal knows which is this deployment's
    await journal.intend(KEY, KEY, { meta: { notTagged: true, account: email, keysBefore: before.map((k) => k.id).join(',') } });
    key = await createWakeKey(gcp, email);
    await journal.created(KEY, key.id, { notTagged: true, account: email });
    registerSecret(key.json);
    registerSecret((JSON.parse(key.json) as { private_key?: string }).private_key);
    await bindWakeRole(gcp, ref, email, gcp.timing.dependencyTimeoutMs);
    return {
      vars: gcpWakeVars(),
      secrets: { [WAKE_SECRET_NAMES.key]: key.json, [WAKE_SECRET_NAMES.instance]: `projects/${gcp.project}/zones/${ref.zone}/instances/${ref.name}` },
    };
  } catch (e) {
    const why = offReason(e, gcp, email);
    if (!why) throw toCliError(e, { action: 'creating the wake credential', project: gcp.project, region: gcp.region });
    // leave nothing behind: the key this run made (a refused create made none); a previous key
    // whose delete was refused stays journaled ('deleting'), for the next run or destroy
    const rec = journal.find(KEY);
    try {
      if (key) await deleteWakeKey(gcp, email, key.id);
      if (key || rec?.phase === 'intent') await journal.deleted(KEY);
    } catch (d) {
      ctx.debug(`gcp: could not delete wake key ${key?.id} after wake was refused; destroy deletes it: ${String(d)}`);
    }
    ctx.progress(`wake on request is off: ${why}`);
    return undefined;
  }
}

/**
 * This deployment's earlier key: deleted by its journaled id. A create whose answer never came
 * (record still 'intent') may have made a key nobody can tell apart from other deployments' keys:
 * it is named (the keys made since), not deleted.
 */
async function retirePreviousKey(gcp: GcpClients, ctx: ProviderContext, journal: Journal, email: string): Promise<void> {
  const rec = journal.find(KEY);
  if (!rec || rec.phase === 'deleted') return;
  if (rec.phase === 'intent') return void (await noteLostKey(gcp, ctx, rec.meta, email));
  await journal.deleting(KEY);
  await deleteWakeKey(gcp, email, rec.id!);
  await journal.deleted(KEY);
}

/** One line naming the keys made since an interrupted create (any of them may be the lost one). */
export async function noteLostKey(gcp: GcpClients, ctx: ProviderContext, meta: Record<string, unknown>, email: string): Promise<void> {
  const before = new Set(String(meta.keysBefore ?? '').split(','));
  const since = (await listWakeKeys(gcp, email).catch(() => [])).filter((k) => !before.has(k.id));
  if (!since.length) return;
  ctx.progress(
    `an interrupted run may have left a key of ${email}; it is one of ${since.map((k) => k.id).join(', ')} (the others belong to other deployments): ` +
      `once you know which, gcloud iam service-accounts keys delete KEY_ID --iam-account ${email}`,
  );
}

/**
 * Destroy without this deployment's key in the journal (the state file lost): when the shared
 * account is bound on the instance, the deployment had a key, made after the instance was. Keys
 * carry no labels, so it cannot be told apart from keys other deployments made since: one line
 * names those candidates; nothing is deleted. Best effort: a refused read only skips the line.
 */
export async function noteUnjournaledKey(gcp: GcpClients, ctx: ProviderContext, ref: InstanceRef): Promise<void> {
  const email = wakeAccountEmail(gcp.project);
  try {
    const inst = await getInstance(gcp, ref);
    if (!inst?.creationTimestamp) return;
    const [policy] = await gcp.instances.getIamPolicy({ project: gcp.project, zone: ref.zone, resource: ref.name, optionsRequestedPolicyVersion: 3 }, CALL_OPTIONS);
    if (!(policy.bindings ?? []).some((b) => b.members?.includes(`serviceAccount:${email}`))) return;
    const since = Date.parse(inst.creationTimestamp);
    const keys = (await listWakeKeys(gcp, email)).filter((k) => k.validAfterTime && Date.parse(k.validAfterTime) >= since);
    if (!keys.length) return;
    ctx.progress(
      `without the state file this deployment's wake key cannot be told apart: it is one of the keys of ${email} made since its VM was (${inst.creationTimestamp}): ${keys.map((k) => k.id).join(', ')}; ` +
        `once you know which, gcloud iam service-accounts keys delete KEY_ID --iam-account ${email} (it can start only VMs the account is bound on)`,
    );
  } catch (e) {
    ctx.debug(`gcp: could not look for this deployment's wake key: ${String(e)}`);
  }
}

/** The journal key of the per-deployment wake account an earlier version made. */
const LEGACY_ACCOUNT = 'gcp:wake-account';

/**
 * A deployment made by an earlier version has its own wake account c4m-wake-<hash> (the installer
 * may no longer delete service accounts): one line saying how to delete it, then the record is closed.
 */
export async function noteLegacyWakeAccount(ctx: ProviderContext, journal: Journal, project: string): Promise<void> {
  const rec = journal.find(LEGACY_ACCOUNT);
  if (!rec || rec.phase === 'deleted') return;
  const email = rec.id ?? (typeof rec.meta.email === 'string' ? rec.meta.email : undefined);
  if (email) ctx.progress(`the wake service account ${email} made by an earlier version is no longer used; delete it (and its keys): gcloud iam service-accounts delete ${email} --project ${project}`);
  await journal.deleted(LEGACY_ACCOUNT);
}

/** Why the project refuses the wake credential and how to enable it, or undefined for any other failure. */
function offReason(e: unknown, gcp: GcpClients, email: string): string | undefined {
  const project = gcp.project;
  const tail = 'and run init again; meanwhile start a stopped VM with crawl4ai-mcp start';
  const perm = deniedPermission(e);
  if (perm?.startsWith('compute.')) return `the GCP credentials lack ${perm} (update the role crawl4aiMcp from ${GCP_POLICY_FILE}: gcloud iam roles update crawl4aiMcp --project ${project} --file ${GCP_POLICY_FILE}) ${tail}`;
  if (perm || gcpErrorInfo(e).status === 404) {
    // a caller without the right on an account cannot tell whether it exists: the answer is 403 either way
    return (
      `the GCP credentials may not manage keys of the shared wake account ${email} (${perm ? `lack ${perm}` : 'it does not exist'}); set it up once: ` +
      `gcloud iam service-accounts create ${WAKE_ACCOUNT_ID} --project ${project} --display-name "crawl4ai-mcp wake (start only)"; ` +
      `gcloud iam roles create ${WAKE_KEYS_ROLE_ID} --project ${project} --file ${GCP_WAKE_KEYS_ROLE_FILE}; ` +
      `gcloud iam service-accounts add-iam-policy-binding ${email} --member serviceAccount:${gcp.identity} --role projects/${project}/roles/${WAKE_KEYS_ROLE_ID} ${tail}`
    );
  }
  if (isRoleMissing(e)) return `the custom role ${WAKE_ROLE_ID} does not exist in project ${project} (create it once: gcloud iam roles create ${WAKE_ROLE_ID} --project ${project} --file ${GCP_WAKE_ROLE_FILE}) ${tail}`;
  if (isKeyCreationDisabled(e)) return `the organization policy constraints/iam.disableServiceAccountKeyCreation forbids service-account keys in project ${project} (an organization policy administrator can exempt this project) ${tail}`;
  if (isKeyLimit(e)) {
    return (
      `the shared wake account ${email} already holds 10 keys, Google's limit (keys of deployments destroyed without their state file stay behind): ` +
      `gcloud iam service-accounts keys list --iam-account ${email}; delete those no deployment uses: gcloud iam service-accounts keys delete KEY_ID --iam-account ${email} ${tail}`
    );
  }
  return undefined;
}

/** Deletes this deployment's key (destroy); a refusal is one clear line. */
export async function deleteGcpWakeKey(gcp: GcpClients, id: string): Promise<void> {
  const email = wakeAccountEmail(gcp.project);
  try {
    await deleteWakeKey(gcp, email, id);
  } catch (e) {
    throw toCliError(e, { action: `deleting wake key ${id} of ${email}`, project: gcp.project, region: gcp.region, permission: 'iam.serviceAccountKeys.delete' });
  }
}

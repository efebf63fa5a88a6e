/**
 * The Worker's wake credential on GCP: a key of the project's one shared service account
 * crawl4ai-mcp-wake (created once by the user, like the custom roles), which holds the custom role
 * crawl4aiMcpWake (compute.instances.get + start: templates/policies/gcp-wake-role.yaml) on each
 * deployment's instance only, through the instance's own IAM policy, and nothing at project level.
 * crawl4ai-mcp's own account may manage that account's keys and no other's (crawl4aiMcpWakeKeys
 * granted on the account: templates/policies/gcp-wake-keys-role.yaml). Each deployment has one key,
 * journaled by its id (not secret); the key file goes only into the Worker.
 */
import { retry } from '../../ground/wait.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall, gcpErrorInfo, toCliError } from './errors.js';
import type { InstanceRef } from './instance.js';
import { restCall } from './rest.js';

export const WAKE_ROLE_ID = 'crawl4aiMcpWake';
export const GCP_WAKE_ROLE_FILE = 'templates/policies/gcp-wake-role.yaml';
export const wakeRoleName = (project: string) => `projects/${project}/roles/${WAKE_ROLE_ID}`;

export const WAKE_KEYS_ROLE_ID = 'crawl4aiMcpWakeKeys';
export const GCP_WAKE_KEYS_ROLE_FILE = 'templates/policies/gcp-wake-keys-role.yaml';
/** The shared wake account of a project (one for every deployment in it). */
export const WAKE_ACCOUNT_ID = 'crawl4ai-mcp-wake';
export const wakeAccountEmail = (project: string) => `${WAKE_ACCOUNT_ID}@${project}.iam.gserviceaccount.com`;

/** The Worker secrets: the key file, and which instance (its zone is known only once it exists). */
export const WAKE_SECRET_NAMES = { key: 'WAKE_GCP_KEY', instance: 'WAKE_GCP_INSTANCE' } as const;

const status = (e: unknown) => gcpErrorInfo(e).status;
/** passed through unchanged, so the caller can turn wake off naming the permission */
const denied = (e: unknown) => status(e) === 403;
const reason = (e: unknown) => gcpErrorInfo(e).reason;

/** A denied call (the installer's role predates wake on request), and the permission it names. */
export function deniedPermission(e: unknown): string | undefined {
  if (status(e) !== 403) return undefined;
  const details = (e as { details?: Array<{ metadata?: { permission?: string } }> }).details ?? [];
  const { message } = gcpErrorInfo(e);
  return details.find((d) => d.metadata?.permission)?.metadata?.permission ?? /(?:Permission|Required) '([a-zA-Z.]+)'/.exec(message)?.[1] ?? 'an IAM permission';
}
/** The org policy constraints/iam.disableServiceAccountKeyCreation (or its managed twin) refuses keys. */
export const isKeyCreationDisabled = (e: unknown) => reason(e) === 'FAILED_PRECONDITION' && /disableServiceAccountKeyCreation|Key creation is not allowed/.test(JSON.stringify((e as { details?: unknown }).details ?? []) + gcpErrorInfo(e).message);
/**
 * The account already holds its 10 user-managed keys: 400 FAILED_PRECONDITION "Precondition check
 * failed." (without the org-policy violation), or the older 429 "Maximum number of keys on account reached."
 */
export const isKeyLimit = (e: unknown) =>
  (reason(e) === 'FAILED_PRECONDITION' && !isKeyCreationDisabled(e) && /Precondition check failed/i.test(gcpErrorInfo(e).message)) || /Maximum number of keys/i.test(gcpErrorInfo(e).message);
/** The one-time custom role crawl4aiMcpWake was not created in the project. */
export const isRoleMissing = (e: unknown) => status(e) === 400 && /Role \(?projects\/[^ )]+\/roles\/[^ )]+\)? (does not exist|is not supported)/.test(gcpErrorInfo(e).message);
/** IAM is eventually consistent: an account just created is not yet a valid binding member for a moment. */
const notYetVisible = (e: unknown) => status(e) === 404 || (status(e) === 400 && /Service account \S+ does not exist/.test(gcpErrorInfo(e).message));
/** Another writer changed the instance's policy between our read and write (etag). */
const policyRaced = (e: unknown) => status(e) === 409 || status(e) === 412;

interface ServiceAccountKeyAnswer {
  name: string;
  privateKeyData?: string;
}

export interface WakeKey {
  /** the key file (JSON text) as Google issues it: a secret */
  json: string;
  /** the key's id (its name's last part): not secret, journaled */
  id: string;
}

const accountUrl = (gcp: GcpClients, email: string) => `${gcp.iamUrl}/v1/projects/${encodeURIComponent(gcp.project)}/serviceAccounts/${encodeURIComponent(email)}`;

/**
 * Binds the wake role to the account on the instance's own IAM policy: read (with its etag),
 * add the member, write. A concurrent writer's change (409/412) means read-modify-write again; a
 * just-created account refused as a member means wait for IAM to see it.
 */
export async function bindWakeRole(gcp: GcpClients, ref: InstanceRef, email: string, deadlineMs = 90_000): Promise<void> {
  const member = `serviceAccount:${email}`;
  const role = wakeRoleName(gcp.project);
  const base = { project: gcp.project, zone: ref.zone, resource: ref.name };
  await retry(
    async () => {
      const [policy] = await gcpCall(
        callContext(gcp, 'instances.getIamPolicy', { permission: 'compute.instances.getIamPolicy' }),
        () => gcp.instances.getIamPolicy({ ...base, optionsRequestedPolicyVersion: 3 }, CALL_OPTIONS),
        denied,
      );
      const bindings = (policy.bindings ?? []).map((b) => ({ ...b, members: [...(b.members ?? [])] }));
      const existing = bindings.find((b) => b.role === role && !b.condition);
      if (existing?.members.includes(member)) return;
      if (existing) existing.members.push(member);
      else bindings.push({ role, members: [member] });
      await gcpCall(
        callContext(gcp, 'instances.setIamPolicy', { permission: 'compute.instances.setIamPolicy' }),
        () => gcp.instances.setIamPolicy({ ...base, zoneSetPolicyRequestResource: { policy: { ...policy, bindings } } }, CALL_OPTIONS),
        (e) => policyRaced(e) || notYetVisible(e) || isRoleMissing(e) || denied(e),
      );
    },
    { retryIf: (e) => policyRaced(e) || notYetVisible(e), attempts: 1_000, deadlineMs, baseMs: gcp.timing.retryBaseMs, maxMs: Math.min(gcp.timing.retryMaxMs, 5_000) },
  );
}

/** Issues a new key of the shared account. Not retried on a lost answer: a second create would make a second key. */
export async function createWakeKey(gcp: GcpClients, email: string): Promise<WakeKey> {
  let answer: ServiceAccountKeyAnswer;
  try {
    // only throttling is retried (it took no effect); a reset or a 5xx may have made a key
    answer = await retry(() => restCall<ServiceAccountKeyAnswer>(gcp, 'POST', `${accountUrl(gcp, email)}/keys`, { privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE', keyAlgorithm: 'KEY_ALG_RSA_2048' }), {
      retryIf: (e) => status(e) === 429 && !isKeyLimit(e),
      attempts: 5,
      baseMs: gcp.timing.retryBaseMs,
      maxMs: gcp.timing.retryMaxMs,
    });
  } catch (e) {
    if (denied(e) || status(e) === 404 || isKeyCreationDisabled(e) || isKeyLimit(e)) throw e;
    throw toCliError(e, callContext(gcp, 'serviceAccountKeys.create', { permission: 'iam.serviceAccountKeys.create' }));
  }
  if (!answer.privateKeyData) throw new Error('IAM serviceAccountKeys.create answered without privateKeyData');
  return { json: Buffer.from(answer.privateKeyData, 'base64').toString('utf8'), id: answer.name.split('/').pop()! };
}

export interface WakeKeyInfo {
  id: string;
  /** RFC 3339: when the key was made */
  validAfterTime?: string;
}

/** The account's user-managed keys (ids and creation times only; the list never holds private keys). */
export async function listWakeKeys(gcp: GcpClients, email: string): Promise<WakeKeyInfo[]> {
  const { keys = [] } = await gcpCall(
    callContext(gcp, 'serviceAccountKeys.list', { permission: 'iam.serviceAccountKeys.list' }),
    () => restCall<{ keys?: Array<{ name: string; keyType?: string; validAfterTime?: string }> }>(gcp, 'GET', `${accountUrl(gcp, email)}/keys?keyTypes=USER_MANAGED`),
    (e) => denied(e) || status(e) === 404,
  );
  return keys.filter((k) => !k.keyType || k.keyType === 'USER_MANAGED').map((k) => ({ id: k.name.split('/').pop()!, ...(k.validAfterTime ? { validAfterTime: k.validAfterTime } : {}) }));
}

/** Deletes one key of the account; already gone is fine. */
export async function deleteWakeKey(gcp: GcpClients, email: string, id: string): Promise<void> {
  try {
    await gcpCall(callContext(gcp, 'serviceAccountKeys.delete', { permission: 'iam.serviceAccountKeys.delete' }), () => restCall(gcp, 'DELETE', `${accountUrl(gcp, email)}/keys/${encodeURIComponent(id)}`), (e) => status(e) === 404 || denied(e));
  } catch (e) {
    if (status(e) !== 404) throw e;
  }
}

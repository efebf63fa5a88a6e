/**
 * The Worker's wake credential on GCP: a service account `c4m-wake-<hash of the deployment>` that
 * holds the custom role crawl4aiMcpWake (compute.instances.get + compute.instances.start, made once
 * by the user: templates/policies/gcp-wake-role.yaml) on this deployment's instance only, through
 * the instance's own IAM policy, and nothing at project level. Its key goes only into the Worker.
 * The name derives from the deployment, so `destroy` finds it without a state file.
 */
import { createHash } from 'node:crypto';
import { retry } from '../../ground/wait.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall, gcpErrorInfo } from './errors.js';
import type { InstanceRef } from './instance.js';
import { restCall } from './rest.js';

export const WAKE_ROLE_ID = 'crawl4aiMcpWake';
export const GCP_WAKE_ROLE_FILE = 'templates/policies/gcp-wake-role.yaml';
export const wakeRoleName = (project: string) => `projects/${project}/roles/${WAKE_ROLE_ID}`;

/** Account ids are 6-30 characters: a prefix the installer's permissions could be conditioned on, and a hash of the deployment name. */
export const wakeAccountId = (deployment: string) => `c4m-wake-${createHash('sha256').update(deployment).digest('hex').slice(0, 12)}`;
export const wakeAccountEmail = (deployment: string, project: string) => `${wakeAccountId(deployment)}@${project}.iam.gserviceaccount.com`;

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
/** The one-time custom role crawl4aiMcpWake was not created in the project. */
export const isRoleMissing = (e: unknown) => status(e) === 400 && /Role \(?projects\/[^ )]+\/roles\/[^ )]+\)? (does not exist|is not supported)/.test(gcpErrorInfo(e).message);
/** IAM is eventually consistent: a service account just created is not yet a valid member or key owner. */
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
  email: string;
}

const accountUrl = (gcp: GcpClients, email: string) => `${gcp.iamUrl}/v1/projects/${encodeURIComponent(gcp.project)}/serviceAccounts/${encodeURIComponent(email)}`;

/** Creates the account (or adopts it on a re-run). True when this call made it. */
export async function createWakeAccount(gcp: GcpClients, deployment: string): Promise<boolean> {
  const c = callContext(gcp, 'serviceAccounts.create', { permission: 'iam.serviceAccounts.create' });
  try {
    await gcpCall(
      c,
      () =>
        restCall(gcp, 'POST', `${gcp.iamUrl}/v1/projects/${encodeURIComponent(gcp.project)}/serviceAccounts`, {
          accountId: wakeAccountId(deployment),
          serviceAccount: { displayName: `crawl4ai-mcp wake: ${deployment}`.slice(0, 100), description: `crawl4ai-mcp deployment ${deployment}: the Worker's credential to start its stopped VM (managed-by=crawl4ai-mcp)` },
        }),
      (e) => status(e) === 409 || denied(e),
    );
    return true;
  } catch (e) {
    if (status(e) === 409) return false;
    throw e;
  }
}

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

/** Issues a fresh key (waiting out IAM's propagation), then deletes every other user-managed key of the account. */
export async function issueWakeKey(gcp: GcpClients, email: string, deadlineMs = 90_000): Promise<WakeKey> {
  const url = accountUrl(gcp, email);
  const answer = await retry(
    () =>
      gcpCall(
        callContext(gcp, 'serviceAccountKeys.create', { permission: 'iam.serviceAccountKeys.create' }),
        () => restCall<ServiceAccountKeyAnswer>(gcp, 'POST', `${url}/keys`, { privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE', keyAlgorithm: 'KEY_ALG_RSA_2048' }),
        (e) => notYetVisible(e) || isKeyCreationDisabled(e) || denied(e),
      ),
    { retryIf: notYetVisible, attempts: 1_000, deadlineMs, baseMs: gcp.timing.retryBaseMs, maxMs: Math.min(gcp.timing.retryMaxMs, 5_000) },
  );
  if (!answer.privateKeyData) throw new Error('IAM serviceAccountKeys.create answered without privateKeyData');
  const json = Buffer.from(answer.privateKeyData, 'base64').toString('utf8');
  const keyId = answer.name.split('/').pop();
  const { keys = [] } = await gcpCall(
    callContext(gcp, 'serviceAccountKeys.list', { permission: 'iam.serviceAccountKeys.list' }),
    () => restCall<{ keys?: Array<{ name: string; keyType?: string }> }>(gcp, 'GET', `${url}/keys?keyTypes=USER_MANAGED`),
    denied,
  );
  for (const k of keys) {
    const id = k.name.split('/').pop();
    if (!id || id === keyId || (k.keyType && k.keyType !== 'USER_MANAGED')) continue;
    await ignoreNotFound(gcpCall(callContext(gcp, 'serviceAccountKeys.delete', { permission: 'iam.serviceAccountKeys.delete' }), () => restCall(gcp, 'DELETE', `${url}/keys/${id}`), (e) => status(e) === 404 || denied(e)));
  }
  return { json, email };
}

/** The account's email when it exists; undefined when it does not. */
export async function findWakeAccount(gcp: GcpClients, deployment: string): Promise<string | undefined> {
  const email = wakeAccountEmail(deployment, gcp.project);
  try {
    await gcpCall(callContext(gcp, 'serviceAccounts.get', { permission: 'iam.serviceAccounts.get' }), () => restCall(gcp, 'GET', accountUrl(gcp, email)), (e) => status(e) === 404 || denied(e));
    return email;
  } catch (e) {
    if (status(e) === 404) return undefined;
    throw e;
  }
}

/** Deletes the account (its keys go with it; the instance binding names a deleted account until the instance goes). Already gone is fine. */
export async function deleteWakeAccount(gcp: GcpClients, email: string): Promise<void> {
  await ignoreNotFound(gcpCall(callContext(gcp, 'serviceAccounts.delete', { permission: 'iam.serviceAccounts.delete' }), () => restCall(gcp, 'DELETE', accountUrl(gcp, email)), (e) => status(e) === 404));
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (status(e) !== 404) throw e;
  }
}

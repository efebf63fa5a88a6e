/**
 * Wake on request on Azure, the installer's half. The Worker's credential is a user-assigned
 * managed identity `crawl4ai-mcp-<deployment>-wake` in the resource group `crawl4ai-mcp_wake`
 * (made once by the user at set-up; the installer may create identities and federated credentials
 * there only, through the role "crawl4ai-mcp wake identities" assigned on that group: a federated
 * credential write anywhere else would let its holder sign in as any identity there), holding
 * one role assignment: the shared role "crawl4ai-mcp wake" (read a VM, start it; the user created
 * it at set-up, templates/policies/azure-wake-role.json) at this deployment's VM only. The Worker
 * gets its tokens by workload identity federation (src/worker/wake-azure.ts): a federated identity
 * credential on the identity trusts tokens from the Worker's own issuer URL with subject
 * crawl4ai-mcp:wake:<deployment>. The signing key is made here per init and goes only into the
 * Worker (wrangler secret bulk, stdin); nothing needs Microsoft Graph, no secret exists in Azure.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { registerSecret } from '../../ground/redact.js';
import { retry } from '../../ground/wait.js';
import { WAKE_AUDIENCE, WAKE_ISSUER_PATH, wakeSubject } from '../../model/azure-wake.js';
import type { Journal } from '../../state/journal.js';
import type { ProviderContext, WakeContext, WakeCredential } from '../provider.js';
import type { AzureClients } from './clients.js';
import { azureCall, azureErrorCode, isNotFound, toCliError } from './errors.js';
import { AZURE_RESOURCE, deploymentTags, resourceNames, scopedId } from './names.js';
import { AZURE_POLICY_FILE } from './permissions.js';
import { actionsBeyond, assignAtVm, findRoleByName, ourAssignments, rest, subscriptionScope, vmIdOf, type ArmItem } from './roles.js';

export const WAKE_ROLE_NAME = 'crawl4ai-mcp wake';
export const WAKE_ROLE_FILE = 'templates/policies/azure-wake-role.json';
/** All the wake identity may do, and only at its VM: read it (its instance view) and start it. */
export const WAKE_ACTIONS = ['Microsoft.Compute/virtualMachines/read', 'Microsoft.Compute/virtualMachines/start/action'] as const;
/** The one federated identity credential on the wake identity. */
export const WAKE_FIC_NAME = 'crawl4ai-mcp-worker';
/**
 * Where every wake identity lives. Not a deployment's group (those are `crawl4ai-mcp-<a-z0-9->`,
 * so the underscore never collides) and never deleted by the tool: the user creates it at set-up
 * and assigns the installer "crawl4ai-mcp wake identities" on it, and nowhere else.
 */
export const WAKE_GROUP = 'crawl4ai-mcp_wake';
export const WAKE_IDENTITIES_ROLE_NAME = 'crawl4ai-mcp wake identities';
export const WAKE_IDENTITIES_ROLE_FILE = 'templates/policies/azure-wake-identities-role.json';
/** What the installer does in WAKE_GROUP: create the identity and its federated credential, delete it on destroy (no read: each PUT is idempotent). */
export const WAKE_IDENTITY_ACTIONS = [
  'Microsoft.ManagedIdentity/userAssignedIdentities/write',
  'Microsoft.ManagedIdentity/userAssignedIdentities/delete',
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write',
] as const;

const MSI_API_VERSION = '2023-01-31';

/** The line that creates the shared wake role (README: Azure set-up has the whole sequence). */
export const CREATE_WAKE_ROLE_COMMAND = `sed "s/{subscriptionId}/$SUB/" ${WAKE_ROLE_FILE} > /tmp/c4m-wake.json && az role definition create --role-definition @/tmp/c4m-wake.json`;

const OFF_TAIL = 'start a stopped VM with crawl4ai-mcp start';

/** The Worker's plain vars for waking this deployment's VM, known before the VM exists. */
export function azureWakeVars(deployment: string, subscriptionId: string | undefined): Record<string, string> {
  if (!subscriptionId) return {};
  const n = resourceNames(deployment);
  return { WAKE_CLOUD: 'azure', WAKE_AZURE_SUBSCRIPTION: subscriptionId, WAKE_AZURE_RESOURCE_GROUP: n.group, WAKE_AZURE_VM: n.vm, WAKE_AZURE_SUBJECT: wakeSubject(deployment) };
}

/** A fresh RSA key pair for the Worker's issuer: the private key (PKCS#8 PEM) and the public JWKS, keyed by its RFC 7638 thumbprint. */
export function issuerKeyPair(): { privatePem: string; jwks: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string };
  const kid = createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })).digest('base64url');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), jwks: JSON.stringify({ keys: [{ kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' }] }) };
}

const identityUrl = (az: AzureClients, deployment: string) =>
  `${subscriptionScope(az)}/resourceGroups/${WAKE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${resourceNames(deployment).wakeIdentity}`;

/** The set-up lines for the group and the installer's role on it (README: Azure). */
const WAKE_GROUP_COMMANDS = `az group create -n ${WAKE_GROUP} -l <region>; sed "s/{subscriptionId}/$SUB/" ${WAKE_IDENTITIES_ROLE_FILE} > /tmp/c4m-wake-ids.json && az role definition create --role-definition @/tmp/c4m-wake-ids.json; az role assignment create --role "${WAKE_IDENTITIES_ROLE_NAME}" --scope /subscriptions/$SUB/resourceGroups/${WAKE_GROUP} --assignee <the service principal's app id>`;

/** Refused for lack of a permission (or by the deployer's assignment condition). */
const refused = (e: unknown) => ['AuthorizationFailed', 'LinkedAuthorizationFailed'].includes(azureErrorCode(e) ?? '');

/**
 * Creates (or adopts) the wake identity, its federated credential and its role assignment at the
 * VM, journaled before the first call (`azure:wake-identity`, `azure:wake-role-assignment`), and
 * makes a fresh signing key for the Worker. Undefined, with one line saying how to turn it on,
 * when the shared role is missing or the credentials may not do it; whatever was made by then is
 * deleted again.
 */
export async function issueAzureWakeCredential(az: AzureClients, ctx: ProviderContext, journal: Journal, wake: WakeContext): Promise<WakeCredential | undefined> {
  const deployment = ctx.spec.name;
  const n = resourceNames(deployment);
  const where = { action: `create the wake identity ${n.wakeIdentity} in resource group ${WAKE_GROUP}`, location: az.location };
  const off = (why: string): undefined => {
    ctx.progress(`wake on request is off: ${why}; ${OFF_TAIL}`);
    return undefined;
  };

  let role: ArmItem | undefined;
  try {
    role = await findRoleByName(az, WAKE_ROLE_NAME);
  } catch (e) {
    if (refused(e)) return off(`the Azure credentials may not read role definitions (Microsoft.Authorization/roleDefinitions/read, ${AZURE_POLICY_FILE})`);
    throw toCliError(e, where);
  }
  if (!role) return off(`the Azure subscription has no role "${WAKE_ROLE_NAME}" (create it once: SUB=$(az account show --query id -o tsv); ${CREATE_WAKE_ROLE_COMMAND}, then add its id to the deployer's condition; README: Azure)`);
  const extra = actionsBeyond(role, WAKE_ACTIONS);
  if (extra.length) return off(`the role "${WAKE_ROLE_NAME}" grants more than read and start (${extra.join(', ')}); recreate it from ${WAKE_ROLE_FILE}`);

  const issuer = `${(await wake.workerUrl()).replace(/\/+$/, '')}${WAKE_ISSUER_PATH}`;
  if (journal.find(AZURE_RESOURCE.wakeIdentity)?.phase !== 'created') await journal.intend(AZURE_RESOURCE.wakeIdentity, AZURE_RESOURCE.wakeIdentity, { region: az.location });
  if (journal.find(AZURE_RESOURCE.wakeAssignment)?.phase !== 'created') await journal.intend(AZURE_RESOURCE.wakeAssignment, AZURE_RESOURCE.wakeAssignment, { region: az.location });
  // turns wake off after a refusal, leaving nothing behind
  const undo = async (why: string) => {
    await deleteIdentity(az, deployment).catch((e: unknown) => ctx.debug(`azure: could not delete the wake identity again: ${String(e)}`));
    await journal.deleted(AZURE_RESOURCE.wakeAssignment);
    await journal.deleted(AZURE_RESOURCE.wakeIdentity);
    return off(why);
  };

  ctx.progress(`creating the wake credential (managed identity ${n.wakeIdentity}: may start this VM and nothing else)`);
  let identity: { id: string; principalId: string; clientId: string; tenantId: string };
  try {
    // in the deployment's region (the group may be elsewhere), tagged with the deployment: status and a destroy without state see it
    const res = await rest(az, 'put', identityUrl(az, deployment), { location: az.location, tags: deploymentTags(deployment) }, MSI_API_VERSION);
    identity = { id: String(res.body.id), ...(res.body.properties as { principalId: string; clientId: string; tenantId: string }) };
  } catch (e) {
    if (azureErrorCode(e) === 'ResourceGroupNotFound') return undo(`the Azure subscription has no resource group ${WAKE_GROUP} for the wake identities (set it up once: ${WAKE_GROUP_COMMANDS}; README: Azure)`);
    if (refused(e)) return undo(`the Azure credentials may not create managed identities in ${WAKE_GROUP} (assign them the role "${WAKE_IDENTITIES_ROLE_NAME}" on that group only: ${WAKE_GROUP_COMMANDS}; README: Azure)`);
    throw toCliError(e, where);
  }

  try {
    // one writer per identity at a time, or ARM answers 409 ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity
    await retry(
      () => rest(az, 'put', `${identityUrl(az, deployment)}/federatedIdentityCredentials/${WAKE_FIC_NAME}`, { properties: { issuer, subject: wakeSubject(deployment), audiences: [WAKE_AUDIENCE] } }, MSI_API_VERSION),
      { retryIf: (e) => azureErrorCode(e) === 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity', attempts: 10, baseMs: Math.min(1_000, az.timing.pollMs), maxMs: 10_000 },
    );
  } catch (e) {
    if (refused(e)) return undo(`the Azure credentials may not add a federated credential to the wake identity (the role "${WAKE_IDENTITIES_ROLE_NAME}" on ${WAKE_GROUP} grants it: ${WAKE_IDENTITIES_ROLE_FILE})`);
    throw toCliError(e, where);
  }

  let assignmentId: string;
  try {
    ctx.progress(`assigning role "${WAKE_ROLE_NAME}" to the wake identity, at virtual machine ${n.vm} only`);
    assignmentId = await assignAtVm(az, ctx, { role, principalId: identity.principalId, vmId: vmIdOf(az, deployment), guidParts: ['wake', deployment], who: 'the wake identity' });
  } catch (e) {
    if (refused(e)) {
      return undo(`the Azure credentials may not assign the role "${WAKE_ROLE_NAME}" (the deployer's role assignment condition must name its id too: templates/policies/azure-deployer-condition.txt, README: Azure)`);
    }
    throw toCliError(e, { action: `assign the role "${WAKE_ROLE_NAME}" to the wake identity`, location: az.location });
  }
  await journal.created(AZURE_RESOURCE.wakeIdentity, scopedId(identity.id), { clientId: identity.clientId });
  await journal.created(AZURE_RESOURCE.wakeAssignment, scopedId(assignmentId), { principalId: identity.principalId });

  const key = issuerKeyPair();
  registerSecret(key.privatePem);
  return {
    vars: {},
    // public values travel with the key: they are known only now (the identity's ids, the Worker's URL)
    secrets: { WAKE_AZURE_TENANT: identity.tenantId, WAKE_AZURE_CLIENT_ID: identity.clientId, WAKE_AZURE_ISSUER: issuer, WAKE_AZURE_JWKS: key.jwks, WAKE_AZURE_SIGNING_KEY: key.privatePem },
  };
}

async function deleteIdentity(az: AzureClients, deployment: string): Promise<void> {
  try {
    await rest(az, 'delete', identityUrl(az, deployment), undefined, MSI_API_VERSION);
  } catch (e) {
    // no group (wake on request never set up), or no identity: nothing to delete
    if (isNotFound(e)) return;
    throw e;
  }
}

/** The deployment's wake identity in WAKE_GROUP, seen in that group's resource list (a read the deployer has at the subscription), so a lost state file is fine. */
async function findIdentity(az: AzureClients, deployment: string): Promise<{ id: string } | undefined> {
  const name = resourceNames(deployment).wakeIdentity.toLowerCase();
  try {
    for await (const r of az.resources.resources.listByResourceGroup(WAKE_GROUP)) {
      if (r.id && r.type?.toLowerCase() === 'microsoft.managedidentity/userassignedidentities' && r.name?.toLowerCase() === name) return { id: r.id };
    }
    return undefined;
  } catch (e) {
    if (isNotFound(e)) return undefined; // no group (wake on request was never set up), no identity
    throw e;
  }
}

/** The wake identity and its role assignment at the VM, as discovery reports them (for drift in `status`). */
export async function discoverWake(az: AzureClients, deployment: string): Promise<Array<{ kind: string; id: string }>> {
  const identity = await findIdentity(az, deployment);
  return [
    ...(identity ? [{ kind: AZURE_RESOURCE.wakeIdentity, id: scopedId(identity.id) }] : []),
    ...(await ourAssignments(az, deployment, WAKE_ROLE_NAME, false)).map((a) => ({ kind: AZURE_RESOURCE.wakeAssignment, id: scopedId(a.id) })),
  ];
}

/**
 * destroy: the wake role's assignment at the VM (Azure keeps it after the VM and the identity are
 * gone), then the identity in WAKE_GROUP (its federated credential goes with it), first of all so
 * the Worker's credential is dead before the slow group delete. Found from the deployment's name:
 * a lost state file is fine.
 */
export async function removeWake(az: AzureClients, ctx: ProviderContext, journal: Journal): Promise<void> {
  const deployment = ctx.spec.name;
  const journaled = journal.live().some((r) => r.kind === AZURE_RESOURCE.wakeIdentity || r.kind === AZURE_RESOURCE.wakeAssignment);
  await azureCall({ action: `delete the wake credential of deployment ${deployment}`, location: az.location }, async () => {
    for (const a of await ourAssignments(az, deployment, WAKE_ROLE_NAME, journaled)) {
      ctx.progress(`deleting role assignment ${a.name} (wake on request)`);
      await rest(az, 'delete', a.id);
    }
    if (!(await findIdentity(az, deployment))) return;
    const name = resourceNames(deployment).wakeIdentity;
    ctx.progress(`deleting the wake credential (managed identity ${name} in ${WAKE_GROUP}, and its federated credential)`);
    try {
      await deleteIdentity(az, deployment);
    } catch (e) {
      // its role assignment is gone already, so it can start nothing; do not hold the rest of destroy back
      if (!refused(e)) throw e;
      ctx.progress(`could not delete managed identity ${name}: the credentials lack "${WAKE_IDENTITIES_ROLE_NAME}" on ${WAKE_GROUP}; delete it with az identity delete -g ${WAKE_GROUP} -n ${name}`);
    }
  });
}

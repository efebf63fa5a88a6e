// Wake on request on Azure, for real against the ARM + Entra emulator: the installer (the real
// @azure SDK's pipeline) creates the wake identity, its federated credential trusting the Worker's
// issuer and its role assignment at the VM; the Worker's code (src/worker/wake-azure.ts, here in
// Node: the same WebCrypto and fetch) signs assertions, Entra checks them against the issuer's
// JWKS, which the emulator fetches from the Worker's issuer route; the token it issues may read
// and start this VM and nothing else. destroy leaves no identity or assignment, state file or not.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OriginUnreachableError, type Crawl4aiOrigin } from '../src/mcp/origin.js';
import { createAzureProvider } from '../src/providers/azure/index.js';
import { issuerKeyPair, WAKE_ACTIONS, WAKE_FIC_NAME, WAKE_ROLE_FILE, WAKE_ROLE_NAME } from '../src/providers/azure/wake.js';
import type { ProviderContext, WakeCredential } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { azureWakeConfig, clientAssertion, wakeIssuerRoute, type AzureWakeEnv } from '../src/worker/wake-azure.js';
import { BOOT_SECONDS, resetWakeGuard, wakeTargetFor, wakingOrigin } from '../src/worker/wake.js';
import { forwardHttp } from './emulators/cloudflare/edge-outbound.js';
import { startAzureEmulator, TYPES, type AzureEmulator } from './emulators/azure/index.js';
import { createSelfDeallocateRole, deployerCondition, selfDeallocateOnlyCondition, setUpWake, WAKE_GROUP } from './helpers/azure-roles.js';
import { failure, until } from './helpers/wake.js';

const WORKER = 'https://crawl4ai-mcp-azwake.test-user.workers.dev';
let az: AzureEmulator;
let dir: string;
let shared: string;
let wakeRole: string;
const azure = createAzureProvider();
/** the Worker's env per deployment: vars from wakeVars, the rest from the credential (as wrangler would bind them) */
const workers = new Map<string, AzureWakeEnv & { WAKE_CLOUD?: string }>();

function ctxFor(name: string, progress: string[] = []): ProviderContext {
  return {
    spec: { name, provider: 'azure', region: 'eastus', size: 'small', network: 'tunnel', profile: 'default', idleStopMinutes: 60 },
    credentials: { kind: 'static', values: { tenantId: az.tenantId, clientId: az.clientId, clientSecret: az.clientSecret, subscriptionId: az.subscriptionId } },
    env: { CRAWL4AI_MCP_AZURE_ENDPOINT: az.url, CRAWL4AI_MCP_AZURE_AUTHORITY_HOST: az.url },
    pollMs: 10,
    progress: (m) => progress.push(m),
    debug: () => {},
  };
}
const journalFor = (name: string) => new Journal(new StateStore(path.join(dir, 'state', name)), newDeploymentState(name));
const workerUrl = (name: string) => WORKER.replace('azwake', name);
const vmOf = (name: string) => az.state.get(az.resourcesOf(name).find((r) => r.type === TYPES.vm)!.id)!;
const identityOf = (name: string) => az.state.ofType(TYPES.identity).find((r) => r.name === `crawl4ai-mcp-${name}-wake`);

/** Entra ID's fetch of a federated issuer: to the Worker whose URL it is, answered by its issuer route. */
async function workerIssuerFetch(url: string): Promise<Response> {
  const u = new URL(url);
  for (const [name, env] of workers) {
    if (u.origin === new URL(workerUrl(name)).origin) return wakeIssuerRoute(new Request(url), u.pathname, env) ?? new Response('{"error":"not_found"}', { status: 404 });
  }
  return new Response('error code: 1016', { status: 530 });
}

/** The Worker's outbound fetch as the edge does it: Azure's public hosts to the emulator, certificate checked for those names. */
const edgeFetch = (async (input: Request | string | URL, init?: RequestInit) => {
  const req = input instanceof Request ? input : new Request(input, init);
  const host = new URL(req.url).hostname;
  expect(['login.microsoftonline.com', 'management.azure.com']).toContain(host);
  const out = await forwardHttp(req, az.url, { tls: { ca: az.caPem, servername: host } });
  if ('response' in out) return out.response;
  throw new Error(out.detail);
}) as typeof fetch;

async function deploy(name: string): Promise<{ journal: Journal; wake: WakeCredential | undefined; progress: string[] }> {
  const journal = journalFor(name);
  const progress: string[] = [];
  const ctx = ctxFor(name, progress);
  await azure.apply(ctx, journal, () => ({ userData: '#cloud-config\n', inboundPorts: [] }));
  const vars = azure.wakeVars!(ctx);
  workers.set(name, vars);
  const wake = await azure.issueWakeCredential!(ctx, journal, { workerUrl: async () => workerUrl(name) });
  if (wake) workers.set(name, { ...vars, ...wake.secrets });
  return { journal, wake, progress };
}

async function token(env: AzureWakeEnv, mutate: (c: NonNullable<ReturnType<typeof azureWakeConfig>>) => void = () => {}, nowS?: number) {
  const cfg = azureWakeConfig(env)!;
  mutate(cfg);
  const der = Buffer.from(cfg.signingKey.replace(/-----(BEGIN|END) PRIVATE KEY-----|\s+/g, ''), 'base64');
  const key = await crypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  const res = await fetch(`${az.url}/${cfg.tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: cfg.clientId,
      scope: 'https://management.azure.com/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(cfg, key, nowS),
    }),
  });
  return { status: res.status, body: (await res.json()) as { access_token?: string; error?: string; error_description?: string } };
}

const arm = async (bearer: string, method: string, p: string, body?: unknown) => {
  const res = await fetch(`${az.url}${p}${p.includes('?') ? '&' : '?'}api-version=2024-07-01`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, code: res.status >= 300 ? ((await res.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code : undefined };
};

const downOrigin: Crawl4aiOrigin = {
  label: 'test origin',
  fetch: async () => {
    throw new OriginUnreachableError('your crawler VM is not connected (tunnel down or VM stopped)', 'run `crawl4ai-mcp status`');
  },
};
const starts = (vmId: string) => az.requests.filter((r) => r.method === 'POST' && r.path.toLowerCase() === `${vmId}/start`.toLowerCase());

beforeAll(async () => {
  az = await startAzureEmulator({ lroMs: 30, principalReplicationMs: 500, fetchIssuer: workerIssuerFetch });
  shared = createSelfDeallocateRole(az);
  wakeRole = setUpWake(az);
  az.constrainRoleAssignments(deployerCondition(shared, wakeRole));
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), az.caPem]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-azwake-'));
}, 60_000);
afterAll(async () => {
  await az?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => resetWakeGuard());

describe('the wake credential on Azure: a managed identity that may start this one VM', () => {
  let journal: Journal;
  let env: AzureWakeEnv;

  it('init creates the identity, a federated credential trusting the Worker, and the wake role at the VM only; the key goes only to the Worker', async () => {
    az.busyFederatedWrites(2); // another writer on the identity: ARM answers 409 until it is done
    const d = await deploy('azwake');
    journal = d.journal;
    env = workers.get('azwake')!;
    expect(d.wake).toBeDefined();
    const identity = identityOf('azwake')!;
    expect(identity).toMatchObject({ name: 'crawl4ai-mcp-azwake-wake', resourceGroup: WAKE_GROUP, location: 'eastus', tags: { 'crawl4ai-mcp:deployment': 'azwake', 'managed-by': 'crawl4ai-mcp' } });
    expect(az.requests.filter((r) => r.error === 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity')).toHaveLength(2);
    const list = (await (await fetch(`${az.url}${identity.id}/federatedIdentityCredentials?api-version=2023-01-31`, { headers: { authorization: `Bearer ${az.issueToken()}` } })).json()) as { value: unknown[] };
    expect(list.value).toEqual([
      expect.objectContaining({ name: WAKE_FIC_NAME, properties: { issuer: `${WORKER}/wake-issuer`, subject: 'crawl4ai-mcp:wake:azwake', audiences: ['api://AzureADTokenExchange'] } }),
    ]);
    const vm = vmOf('azwake');
    const mine = [...az.state.roleAssignments.values()].filter((a) => a.principalId === identity.properties.principalId);
    expect(mine.map((a) => [a.scope, a.roleDefinitionName, a.principalType])).toEqual([[vm.id, wakeRole, 'ServicePrincipal']]);
    // the Worker gets the vars and the bundle; only the private key is secret, and it is nowhere else
    expect(Object.keys(d.wake!.secrets).sort()).toEqual(['WAKE_AZURE_CLIENT_ID', 'WAKE_AZURE_ISSUER', 'WAKE_AZURE_JWKS', 'WAKE_AZURE_SIGNING_KEY', 'WAKE_AZURE_TENANT']);
    expect(env).toMatchObject({ WAKE_CLOUD: 'azure', WAKE_AZURE_VM: 'crawl4ai-mcp-azwake-vm', WAKE_AZURE_RESOURCE_GROUP: 'crawl4ai-mcp-azwake', WAKE_AZURE_CLIENT_ID: identity.properties.clientId, WAKE_AZURE_TENANT: az.tenantId });
    expect(d.wake!.secrets.WAKE_AZURE_SIGNING_KEY).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(JSON.parse(d.wake!.secrets.WAKE_AZURE_JWKS!).keys[0]).not.toHaveProperty('d');
    const state = fs.readFileSync(path.join(dir, 'state', 'azwake', 'azwake.json'), 'utf8');
    expect(state).not.toContain('PRIVATE KEY');
    expect(d.progress.join('\n')).not.toContain('PRIVATE KEY');
    expect(JSON.parse(state).resources.filter((r: { kind: string }) => r.kind.startsWith('azure:wake')).map((r: { kind: string; phase: string }) => [r.kind, r.phase])).toEqual([
      ['azure:wake-identity', 'created'],
      ['azure:wake-role-assignment', 'created'],
    ]);
    // status sees no drift: the identity and the assignment are both journaled
    const found = await azure.discover(ctxFor('azwake'));
    const ids = new Set(journal.live().map((r) => r.id));
    expect(found.filter((r) => !ids.has(r.id))).toEqual([]);
  }, 60_000);

  it('azure-wake-role.json is the shared role: read and start a VM, nothing else', () => {
    const role = JSON.parse(fs.readFileSync(path.resolve(WAKE_ROLE_FILE), 'utf8')) as Record<string, unknown>;
    expect(role).toMatchObject({ Name: WAKE_ROLE_NAME, IsCustom: true, Actions: [...WAKE_ACTIONS], NotActions: [], DataActions: [], NotDataActions: [], AssignableScopes: ['/subscriptions/{subscriptionId}'] });
  });

  it('a tool call that finds the VM deallocated starts it once, also under a burst of calls; the token is the identity, not the installer', async () => {
    const ctx = ctxFor('azwake');
    await azure.stop(ctx, journal);
    const vm = vmOf('azwake');
    expect(vm.vm!.powerState).toBe('deallocated');
    const origin = wakingOrigin(downOrigin, wakeTargetFor({ ...env, WAKE_CLOUD: 'azure' }, edgeFetch));
    const texts = await Promise.all(Array.from({ length: 5 }, () => failure(origin.fetch('/crawl', { method: 'POST' }))));
    for (const t of texts) expect(t).toContain(`your crawler is starting, ready in about ${BOOT_SECONDS} s — call again`);
    expect(starts(vm.id)).toHaveLength(1);
    expect(starts(vm.id)[0]).toMatchObject({ status: 202, principal: identityOf('azwake')!.properties.principalId });
    await until(() => vmOf('azwake').vm!.powerState === 'running');
    // booting: the next call is told it is starting, without a second start
    expect(await failure(origin.fetch('/crawl', { method: 'POST' }))).toMatch(/your crawler is starting, ready in about \d+ s/);
    expect(starts(vm.id)).toHaveLength(1);
  }, 60_000);

  it('a VM powered off from inside (stopped, still allocated) is started too', async () => {
    const vm = vmOf('azwake');
    vm.vm!.powerState = 'stopped';
    const before = starts(vm.id).length;
    const origin = wakingOrigin(downOrigin, wakeTargetFor({ ...env, WAKE_CLOUD: 'azure' }, edgeFetch));
    expect(await failure(origin.fetch('/md', { method: 'POST' }))).toContain('your crawler is starting');
    expect(starts(vm.id)).toHaveLength(before + 1);
    await until(() => vmOf('azwake').vm!.powerState === 'running');
  }, 30_000);

  it('a VM its owner started a moment ago counts as booting (the instance view\'s last operation time): no second start, the caller waits', async () => {
    const ctx = ctxFor('azwake');
    await azure.stop(ctx, journal);
    await azure.start(ctx, journal);
    const vm = vmOf('azwake');
    const before = starts(vm.id).length;
    const origin = wakingOrigin(downOrigin, wakeTargetFor({ ...env, WAKE_CLOUD: 'azure' }, edgeFetch));
    expect(await failure(origin.fetch('/crawl', { method: 'POST' }))).toMatch(/your crawler is starting, ready in about \d+ s — call again/);
    expect(starts(vm.id)).toHaveLength(before);
  }, 30_000);

  it('its token may read and start this VM, and is refused deallocate, delete, change, another VM, role writes and the identity itself', async () => {
    const t = await token(env);
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    const bearer = t.body.access_token!;
    const vm = vmOf('azwake');
    expect((await arm(bearer, 'GET', `${vm.id}?$expand=instanceView`)).status).toBe(200);
    expect((await arm(bearer, 'POST', `${vm.id}/start`)).status).toBe(202);
    const other = (await deploy('azother')).wake;
    expect(other).toBeDefined();
    const theirs = vmOf('azother');
    const identity = identityOf('azwake')!;
    const refusals = await Promise.all([
      arm(bearer, 'POST', `${vm.id}/deallocate`),
      arm(bearer, 'POST', `${vm.id}/powerOff`),
      arm(bearer, 'POST', `${vm.id}/restart`),
      arm(bearer, 'DELETE', vm.id),
      arm(bearer, 'PATCH', vm.id, { properties: { userData: 'AAAA' } }),
      arm(bearer, 'PUT', vm.id, { location: 'eastus', properties: {} }),
      arm(bearer, 'POST', `${theirs.id}/start`),
      arm(bearer, 'GET', theirs.id),
      arm(bearer, 'GET', `/subscriptions/${az.subscriptionId}/resourcegroups/crawl4ai-mcp-azwake`),
      arm(bearer, 'DELETE', identity.id),
      arm(bearer, 'PUT', `${identity.id}/federatedIdentityCredentials/another`, { properties: { issuer: 'https://evil.example', subject: 'x', audiences: ['api://AzureADTokenExchange'] } }),
      arm(bearer, 'PUT', `${vm.id}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-00000000000a`, {
        properties: { roleDefinitionId: `/subscriptions/${az.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${shared}`, principalId: identity.properties.principalId, principalType: 'ServicePrincipal' },
      }),
      arm(bearer, 'PUT', `/subscriptions/${az.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-4000-8000-00000000000b`, { properties: { roleName: 'x', assignableScopes: ['/'], permissions: [{ actions: ['*'] }] } }),
    ]);
    expect(refusals.map((r) => [r.status, r.code])).toEqual(refusals.map(() => [403, 'AuthorizationFailed']));
    expect(vmOf('azwake').vm!.powerState).not.toMatch(/deallocat/);
  }, 60_000);

  it('Entra refuses an assertion whose key, subject, audience or time is wrong (its AADSTS codes), and then nothing starts: the caller is told `crawl4ai-mcp start`', async () => {
    const stranger = issuerKeyPair();
    const wrongKey = await token(env, (c) => (c.signingKey = stranger.privatePem));
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body.error_description).toMatch(/^AADSTS50013: Assertion failed signature validation/);
    const wrongKid = await token(env, (c) => (c.kid = 'not-a-key-of-the-issuer'));
    expect(wrongKid.body.error_description).toMatch(/^AADSTS7000272: The certificate with identifier not-a-key-of-the-issuer used to sign the federated credential could not be found/);
    const wrongSubject = await token(env, (c) => (c.subject = 'crawl4ai-mcp:wake:azother'));
    expect(wrongSubject.status).toBe(400);
    expect(wrongSubject.body.error_description).toMatch(/^AADSTS70021: No matching federated identity record found for presented assertion\. Assertion Issuer: 'https:\/\/crawl4ai-mcp-azwake\.test-user\.workers\.dev\/wake-issuer'\. Assertion Subject: 'crawl4ai-mcp:wake:azother'/);
    const otherIssuer = await token(env, (c) => (c.issuer = `${workerUrl('azother')}/wake-issuer`));
    expect(otherIssuer.body.error_description).toMatch(/^AADSTS70021:/);
    const expired = await token(env, () => {}, Math.floor(Date.now() / 1000) - 3_600);
    expect(expired.body.error_description).toMatch(/^AADSTS700024: Client assertion is not within its valid time range/);
    const otherClient = await token(env, (c) => (c.clientId = workers.get('azother')!.WAKE_AZURE_CLIENT_ID!));
    expect(otherClient.body.error_description).toMatch(/^AADSTS70021:/);

    // the Worker with a signing key that is not the issuer's: nothing starts
    const vm = vmOf('azwake');
    await azure.stop(ctxFor('azwake'), journal);
    const before = starts(vm.id).length;
    const origin = wakingOrigin(downOrigin, wakeTargetFor({ ...env, WAKE_CLOUD: 'azure', WAKE_AZURE_SIGNING_KEY: stranger.privatePem }, edgeFetch));
    const text = await failure(origin.fetch('/crawl', { method: 'POST' }));
    expect(text).toContain("Azure refused this Worker's wake credential (AADSTS50013)");
    expect(text).toContain('`crawl4ai-mcp start`');
    expect(starts(vm.id)).toHaveLength(before);
    expect(vmOf('azwake').vm!.powerState).toBe('deallocated');
  }, 60_000);

  it('destroy deletes the identity and its role assignment (the shared role stays), also with the state file lost', async () => {
    const gone = identityOf('azwake')!.properties.principalId;
    const theirs = identityOf('azother')!.properties.principalId;
    await azure.destroy(ctxFor('azwake'), journal);
    await azure.destroy(ctxFor('azother'), journalFor('lost-azother'));
    expect(az.resourcesOf('azwake')).toEqual([]);
    expect(az.resourcesOf('azother')).toEqual([]);
    expect(az.state.ofType(TYPES.identity)).toEqual([]);
    expect([...az.state.roleAssignments.values()].filter((a) => a.principalId === gone || a.principalId === theirs)).toEqual([]);
    expect([...az.state.roleDefinitions.keys()]).toEqual(expect.arrayContaining([shared, wakeRole]));
    expect(az.state.groupOf(WAKE_GROUP)).toBeDefined(); // the user's, kept for the next deployment
    // the identity was deleted before its group: the Worker's credential died first
    const order = az.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
    const at = (re: RegExp) => order.findIndex((p) => re.test(p));
    expect(at(/userAssignedIdentities\/crawl4ai-mcp-azwake-wake$/)).toBeLessThan(at(/resourcegroups\/crawl4ai-mcp-azwake$/i));
  }, 60_000);
});

const setUpWakeScope = () => az.grantOnlyUnder(['Microsoft.ManagedIdentity/userAssignedIdentities/write', 'Microsoft.ManagedIdentity/userAssignedIdentities/delete', 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'], `/subscriptions/${az.subscriptionId}/resourceGroups/${WAKE_GROUP}`);

describe('the installer\'s Microsoft.ManagedIdentity actions hold on crawl4ai-mcp_wake only', () => {
  it('it cannot federate (sign in as) an identity anywhere else, nor create one there', async () => {
    const t = az.issueToken();
    const put = async (p: string, body: unknown) => {
      const res = await fetch(`${az.url}${p}?api-version=2023-01-31`, { method: 'PUT', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, code: ((await res.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code };
    };
    // someone else's identity, say an app's with access to its data, made by an admin
    const app = `/subscriptions/${az.subscriptionId}/resourceGroups/prod-app`;
    az.grantOnlyUnder([], '/');
    try {
      expect((await put(app, { location: 'eastus' })).status).toBe(201);
      expect((await put(`${app}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-identity`, { location: 'eastus' })).status).toBe(201);
    } finally {
      setUpWakeScope();
    }
    const evil = { properties: { issuer: 'https://attacker.example', subject: 'me', audiences: ['api://AzureADTokenExchange'] } };
    expect(await put(`${app}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-identity/federatedIdentityCredentials/mine`, evil)).toEqual({ status: 403, code: 'AuthorizationFailed' });
    expect(await put(`${app}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/another`, { location: 'eastus' })).toEqual({ status: 403, code: 'AuthorizationFailed' });
    // where it may: its own group
    expect((await put(`/subscriptions/${az.subscriptionId}/resourceGroups/${WAKE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/scratch`, { location: 'eastus' })).status).toBe(201);
  });
});

describe("the deployer's condition with the wake role", () => {
  it('lets the installer assign only the two shared roles, only to service principals: not Owner to itself, not the wake role to a user', async () => {
    const t = az.issueToken();
    const put = async (scope: string, guid: string, roleGuid: string, principalId: string, principalType: string) => {
      const res = await fetch(`${az.url}${scope}/providers/Microsoft.Authorization/roleAssignments/${guid}?api-version=2022-04-01`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
        body: JSON.stringify({ properties: { roleDefinitionId: `/subscriptions/${az.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`, principalId, principalType } }),
      });
      return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
    };
    const sub = `/subscriptions/${az.subscriptionId}`;
    const OWNER = '8e3af657-a8ff-443c-a325-c5ff6c7d3c5b';
    expect(await put(sub, '00000000-0000-4000-8000-0000000000c1', OWNER, az.installerPrincipalId, 'ServicePrincipal')).toEqual({ status: 403, code: 'AuthorizationFailed' });
    expect(await put(sub, '00000000-0000-4000-8000-0000000000c2', wakeRole, az.installerPrincipalId, 'User')).toEqual({ status: 403, code: 'AuthorizationFailed' });
  });
});

describe('wake on request stays off, in one line and with nothing left behind, when the set-up lacks a piece', () => {
  const noWake = async (name: string) => {
    const d = await deploy(name);
    expect(d.wake).toBeUndefined();
    expect(identityOf(name)).toBeUndefined();
    expect(d.journal.live().filter((r) => r.kind.startsWith('azure:wake'))).toEqual([]);
    expect([...az.state.roleAssignments.values()].filter((a) => a.roleDefinitionName === wakeRole && a.scope.includes(`crawl4ai-mcp-${name}/`))).toEqual([]);
    const line = d.progress.filter((l) => l.startsWith('wake on request is off: '));
    expect(line).toHaveLength(1);
    expect(line[0]).toMatch(/; start a stopped VM with crawl4ai-mcp start$/);
    await azure.destroy(ctxFor(name), d.journal);
    return line[0]!;
  };

  it('no "crawl4ai-mcp wake" role: names the az command that creates it; nothing is created', async () => {
    const role = az.state.roleDefinitions.get(wakeRole)!;
    az.state.roleDefinitions.delete(wakeRole);
    try {
      const line = await noWake('aznorole');
      expect(line).toContain('the Azure subscription has no role "crawl4ai-mcp wake"');
      expect(line).toContain('az role definition create --role-definition @/tmp/c4m-wake.json');
      expect(az.requests.some((r) => r.path.includes('crawl4ai-mcp-aznorole-wake'))).toBe(false);
    } finally {
      az.state.roleDefinitions.set(wakeRole, role);
    }
  }, 60_000);

  it('a deployer condition from before wake on request (self-deallocate only): the assignment is refused, the identity deleted again', async () => {
    az.constrainRoleAssignments(selfDeallocateOnlyCondition(shared));
    try {
      const line = await noWake('azoldcond');
      expect(line).toContain('the deployer\'s role assignment condition must name its id too');
      expect(az.requests.some((r) => r.method === 'PUT' && r.path.endsWith('/userAssignedIdentities/crawl4ai-mcp-azoldcond-wake'))).toBe(true);
    } finally {
      az.constrainRoleAssignments(deployerCondition(shared, wakeRole));
    }
  }, 60_000);

  it('no "crawl4ai-mcp wake identities" for the installer on crawl4ai-mcp_wake: names the role and the group; validate still passes', async () => {
    az.grantOnlyUnder(['Microsoft.ManagedIdentity/*'], `/subscriptions/${az.subscriptionId}/resourceGroups/somewhere-else`);
    try {
      expect((await azure.validateCredentials(ctxFor('azoldrole'))).missing).toEqual([]);
      const line = await noWake('azoldrole');
      expect(line).toContain('the Azure credentials may not create managed identities in crawl4ai-mcp_wake (assign them the role "crawl4ai-mcp wake identities" on that group only');
    } finally {
      setUpWakeScope();
    }
  }, 60_000);

  it('no resource group crawl4ai-mcp_wake: names the az group create line', async () => {
    const group = az.state.groupOf(WAKE_GROUP)!;
    az.state.groups.delete(WAKE_GROUP.toLowerCase());
    try {
      const line = await noWake('aznogroup');
      expect(line).toContain('the Azure subscription has no resource group crawl4ai-mcp_wake for the wake identities (set it up once: az group create -n crawl4ai-mcp_wake');
    } finally {
      az.state.groups.set(WAKE_GROUP.toLowerCase(), group);
    }
  }, 60_000);
});

describe('the ARM emulator: federated identity credentials', () => {
  it('at most 20 per identity, names as ARM allows them, one issuer + subject pair per identity', async () => {
    const g = `/subscriptions/${az.subscriptionId}/resourceGroups/${WAKE_GROUP}`;
    const t = az.issueToken();
    const put = (p: string, body: unknown) =>
      fetch(`${az.url}${p}?api-version=2023-01-31`, { method: 'PUT', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const id = `${g}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/many`;
    const created = (await (await put(id, { location: 'eastus' })).json()) as { properties: Record<string, string> };
    expect(Object.keys(created.properties).sort()).toEqual(['clientId', 'principalId', 'tenantId']);
    for (let i = 0; i < 20; i++) expect((await put(`${id}/federatedIdentityCredentials/fic-${i}`, { properties: { issuer: 'https://i.example', subject: `s${i}`, audiences: ['api://AzureADTokenExchange'] } })).status).toBe(201);
    const over = await put(`${id}/federatedIdentityCredentials/fic-20`, { properties: { issuer: 'https://i.example', subject: 's20', audiences: ['api://AzureADTokenExchange'] } });
    expect(over.status).toBe(400);
    expect((await put(`${id}/federatedIdentityCredentials/-bad`, { properties: { issuer: 'https://i.example', subject: 'x', audiences: ['a'] } })).status).toBe(400);
    const dup = await put(`${id}/federatedIdentityCredentials/fic-0`, { properties: { issuer: 'https://i.example', subject: 's1', audiences: ['api://AzureADTokenExchange'] } });
    expect(((await dup.json()) as { error: { message: string } }).error.message).toBe('Issuer and subject combination already exists for this Managed Identity.');
  });
});

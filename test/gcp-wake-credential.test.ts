// The Worker's wake credential on GCP, exercised through the real @google-cloud/compute clients
// against the Compute emulator's IAM side: what init makes (a key of the shared account
// crawl4ai-mcp-wake, bound to crawl4aiMcpWake on its own instance only), what that key may and may
// not do, what the installer may no longer do (mint keys for other service accounts), the
// refusals that leave wake off with nothing behind, re-runs, a lost answer, and destroy.
import { createSign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcpProvider } from '../src/providers/gcp/index.js';
import { GCP_ROLE_PERMISSIONS, GCP_WAKE_KEYS_ROLE_PERMISSIONS, GCP_WAKE_ROLE_PERMISSIONS } from '../src/providers/gcp/permissions.js';
import { wakeAccountEmail, wakeRoleName } from '../src/providers/gcp/wake-credential.js';
import type { ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { GOOGLE_TOKEN_URI, startGceEmulator, type GceEmulator } from './emulators/gce/index.js';
import { setUpGcpWake, wakeKeysRoleName } from './helpers/gcp-wake-setup.js';
import { until } from './helpers/wake.js';

const gcp = createGcpProvider();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-gcp-wake-'));
let emu: GceEmulator;
let shared: string;
const lines: string[] = [];
const ctxOf = (name: string): ProviderContext => ({
  spec: { name, provider: 'gcp', region: 'us-central1', size: 'small', network: 'tunnel', profile: 'default' },
  credentials: { kind: 'static', values: { serviceAccountKey: emu.serviceAccountKey } },
  env: { CRAWL4AI_MCP_GCP_ENDPOINT: emu.url },
  pollMs: 20,
  progress: (l) => lines.push(l),
  debug: () => {},
});
const journals = new Map<string, Journal>();
const journalOf = (name: string) => {
  let j = journals.get(name);
  if (!j) journals.set(name, (j = new Journal(new StateStore(path.join(dir, name)), newDeploymentState(name))));
  return j;
};
const bootstrap = () => ({ userData: '#cloud-config\n', inboundPorts: [] });
const instanceOf = (name: string) => {
  emu.state.tick();
  return [...emu.state.instances.values()].find((i) => i.name === `crawl4ai-mcp-${name}`)!;
};

/** The wake key's own access token: its JWT (RS256, aud = the key's token_uri) exchanged at the emulator. */
async function tokenOf(keyJson: string): Promise<string> {
  const key = JSON.parse(keyJson) as { client_email: string; private_key: string; token_uri: string };
  if (key.client_email.startsWith('crawl4ai-mcp-wake@')) expect(key.token_uri).toBe(GOOGLE_TOKEN_URI);
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: key.client_email, scope: 'https://www.googleapis.com/auth/compute', aud: key.token_uri, iat: now, exp: now + 600 })}`;
  const sig = createSign('RSA-SHA256').update(unsigned).sign(key.private_key, 'base64url');
  const res = await fetch(`${emu.url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${sig}` }) });
  const body = (await res.json()) as { access_token?: string; error_description?: string };
  if (!body.access_token) throw new Error(`token refused: ${body.error_description}`);
  return body.access_token;
}

/** Compute clients (the real SDK) that act as the wake key. */
async function asWakeKey(keyJson: string): Promise<InstancesClient> {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: await tokenOf(keyJson), expiry_date: Date.now() + 600_000 });
  return new InstancesClient({ fallback: true, apiEndpoint: '127.0.0.1', port: emu.port, authClient });
}

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return String((e as Error).message);
  }
  throw new Error('expected the call to be refused');
}


/** An IAM API call with a bearer token: status and google.rpc status / message. */
async function iamCall(token: string, method: 'GET' | 'POST' | 'DELETE', rest: string, body?: unknown) {
  const res = await fetch(`${emu.url}/v1/projects/${emu.project}/serviceAccounts${rest}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as { error?: { status: string; message: string }; privateKeyData?: string; name?: string };
  return { status: res.status, json };
}
const keysOf = (email: string) => [...emu.iam.account(email).keys.keys()];
const offLines = () => lines.filter((l) => l.startsWith('wake on request is off'));

beforeAll(async () => {
  emu = await startGceEmulator({ transitionMs: 50 });
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.ca]);
  shared = setUpGcpWake(emu);
  for (const name of ['wakeme', 'other']) await gcp.apply(ctxOf(name), journalOf(name), bootstrap);
}, 60_000);
afterAll(async () => {
  await emu?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the GCP wake credential (real @google-cloud/compute against the emulator)', () => {
  let keyJson: string;

  it('init makes a key of the shared account, bound to crawl4aiMcpWake on its own instance only, and it goes out as WAKE_GCP_KEY', async () => {
    const accounts = emu.iam.accounts.size;
    const wake = await gcp.issueWakeCredential!(ctxOf('wakeme'), journalOf('wakeme'));
    expect(wake).toBeDefined();
    expect(emu.iam.accounts.size).toBe(accounts); // no service account made
    const inst = instanceOf('wakeme');
    expect(wake!.vars).toEqual({ WAKE_CLOUD: 'gcp' });
    expect(wake!.secrets.WAKE_GCP_INSTANCE).toBe(`projects/${emu.project}/zones/${inst.zone}/instances/${inst.name}`);
    keyJson = wake!.secrets.WAKE_GCP_KEY!;
    expect(shared).toBe(wakeAccountEmail(emu.project));
    expect(JSON.parse(keyJson).client_email).toBe(shared);
    // bound on this instance, nowhere else
    expect(emu.iam.policyJson(`${inst.zone}/${inst.name}`).bindings).toEqual([{ role: wakeRoleName(emu.project), members: [`serviceAccount:${shared}`] }]);
    const other = instanceOf('other');
    expect(emu.iam.policyJson(`${other.zone}/${other.name}`).bindings).toBeUndefined();
    // journaled by key id, no key file in the state file
    const rec = journalOf('wakeme').find('gcp:wake-key')!;
    expect(rec).toMatchObject({ phase: 'created', id: JSON.parse(keyJson).private_key_id });
    expect(keysOf(shared)).toEqual([rec.id]);
    const state = fs.readFileSync(path.join(dir, 'wakeme', 'wakeme.json'), 'utf8');
    expect(state).not.toContain(JSON.parse(keyJson).private_key.slice(40, 80));
  });

  it('its key can read and start its stopped VM', async () => {
    await gcp.stop(ctxOf('wakeme'), journalOf('wakeme'));
    const inst = instanceOf('wakeme');
    const client = await asWakeKey(keyJson);
    const [got] = await client.get({ project: emu.project, zone: inst.zone, instance: inst.name }, { maxRetries: 0 });
    expect(got.status).toBe('TERMINATED');
    await client.start({ project: emu.project, zone: inst.zone, instance: inst.name }, { maxRetries: 0 });
    await until(() => instanceOf('wakeme').status === 'RUNNING');
  });

  it('its key is refused stop, delete, setMetadata, setIamPolicy, an instance it is not bound on and every IAM call', async () => {
    const inst = instanceOf('wakeme');
    const other = instanceOf('other');
    const client = await asWakeKey(keyJson);
    const here = { project: emu.project, zone: inst.zone, instance: inst.name };
    const o = { maxRetries: 0 };
    expect(await refused(client.stop(here, o))).toMatch(/compute\.instances\.stop/);
    expect(await refused(client.delete(here, o))).toMatch(/compute\.instances\.delete/);
    expect(await refused(client.setMetadata({ ...here, metadataResource: { fingerprint: 'x', items: [] } }, o))).toMatch(/compute\.instances\.setMetadata/);
    expect(await refused(client.setIamPolicy({ project: emu.project, zone: inst.zone, resource: inst.name, zoneSetPolicyRequestResource: { policy: { bindings: [] } } }, o))).toMatch(/compute\.instances\.setIamPolicy/);
    expect(await refused(client.get({ project: emu.project, zone: other.zone, instance: other.name }, o))).toMatch(/compute\.instances\.get/);
    await gcp.stop(ctxOf('other'), journalOf('other'));
    expect(await refused(client.start({ project: emu.project, zone: other.zone, instance: other.name }, o))).toMatch(/compute\.instances\.start/);
    expect(await refused(client.list({ project: emu.project, zone: inst.zone }, o))).toMatch(/compute\.instances\.list/);
    const token = await tokenOf(keyJson);
    for (const [method, rest, body] of [
      ['POST', '', { accountId: 'c4m-evil-00' }],
      ['POST', `/${shared}/keys`, {}],
      ['GET', `/${shared}/keys`, undefined],
      ['POST', `/${shared}:setIamPolicy`, { policy: { bindings: [] } }],
      ['DELETE', `/${shared}`, undefined],
    ] as const) {
      const res = await iamCall(token, method, rest, body);
      expect(res.status).toBe(403);
      expect(res.json.error!.status).toBe('PERMISSION_DENIED');
    }
    expect(instanceOf('wakeme').status).toBe('RUNNING');
    expect(instanceOf('other').status).toBe('TERMINATED');
  });

  it('the installer (its role from the template and the set-up grant) manages keys of the shared account only: it cannot mint a key for another service account', async () => {
    const admin = emu.iam.createAccountAsOwner('project-admin', 'a powerful account of the same project');
    emu.grantOnly(GCP_ROLE_PERMISSIONS);
    try {
      const token = await tokenOf(emu.serviceAccountKey);
      const made = await iamCall(token, 'POST', `/${shared}/keys`, {});
      expect(made.status).toBe(200);
      const id = made.json.name!.split('/').pop()!;
      expect((await iamCall(token, 'GET', `/${shared}/keys`)).status).toBe(200);
      expect((await iamCall(token, 'DELETE', `/${shared}/keys/${id}`)).status).toBe(200);
      // the escalation that is closed: keys of any other account of the project
      const minted = await iamCall(token, 'POST', `/${admin}/keys`, {});
      expect(minted.status).toBe(403);
      expect(minted.json.error).toMatchObject({ status: 'PERMISSION_DENIED' });
      expect(minted.json.error!.message).toContain('iam.serviceAccountKeys.create');
      expect((await iamCall(token, 'GET', `/${admin}/keys`)).status).toBe(403);
      expect((await iamCall(token, 'POST', ``, { accountId: 'c4m-mine-00' })).status).toBe(403);
      // nor grant itself more on the shared account
      expect((await iamCall(token, 'POST', `/${shared}:setIamPolicy`, { policy: { bindings: [{ role: 'roles/owner', members: ['serviceAccount:x@y'] }] } })).status).toBe(403);
      expect(emu.iam.account(admin).keys.size).toBe(0);
    } finally {
      emu.grantOnly(undefined);
      emu.iam.accounts.delete(admin);
    }
  });

  it('a re-run deletes the deployment\'s previous key (its JWT is refused) and issues a fresh one, waiting out a concurrent policy change and IAM propagation', async () => {
    const before = emu.requests.filter((r) => r.path.endsWith('/setIamPolicy')).length;
    const oldId = journalOf('wakeme').find('gcp:wake-key')!.id;
    const again = await gcp.issueWakeCredential!(ctxOf('wakeme'), journalOf('wakeme'));
    expect(again!.secrets.WAKE_GCP_KEY).not.toBe(keyJson);
    const newId = journalOf('wakeme').find('gcp:wake-key')!.id!;
    expect(newId).not.toBe(oldId);
    expect(keysOf(shared)).toEqual([newId]);
    await expect(tokenOf(keyJson)).rejects.toThrow(/Invalid JWT Signature/);
    expect(await tokenOf(again!.secrets.WAKE_GCP_KEY!)).toMatch(/^ya29\./);
    // the binding exists: no write needed
    expect(emu.requests.filter((r) => r.path.endsWith('/setIamPolicy')).length).toBe(before);
    keyJson = again!.secrets.WAKE_GCP_KEY!;

    // a second deployment: its own key beside the first; another writer changes its instance's policy once
    await gcp.apply(ctxOf('fresh'), journalOf('fresh'), bootstrap);
    emu.iam.concurrentPolicyChanges = 1;
    // and the user made the shared account moments ago: not yet a valid binding member
    const made = emu.iam.account(shared).createdAt;
    emu.iam.account(shared).createdAt = emu.state.now();
    emu.iam.propagationMs = 1_500; // outlasts the key's create (an RSA key pair) before the bind
    try {
      const fresh = await gcp.issueWakeCredential!(ctxOf('fresh'), journalOf('fresh'));
      expect(fresh).toBeDefined();
      const sets = emu.requests.filter((r) => r.path.endsWith(`/instances/crawl4ai-mcp-fresh/setIamPolicy`));
      expect(sets.map((r) => r.status)).toContain(400); // "Service account … does not exist." while IAM propagates
      expect(sets.map((r) => r.status)).toContain(409); // "There were concurrent policy changes"
      expect(sets.at(-1)!.status).toBe(200);
      expect(keysOf(shared).sort()).toEqual([newId, journalOf('fresh').find('gcp:wake-key')!.id!].sort());
    } finally {
      emu.iam.concurrentPolicyChanges = 0;
      emu.iam.propagationMs = 0;
      emu.iam.account(shared).createdAt = made;
    }

    // a re-run that may not delete the previous key: wake off, and the key stays journaled for destroy
    const freshId = journalOf('fresh').find('gcp:wake-key')!.id!;
    emu.grantOnly(GCP_ROLE_PERMISSIONS);
    emu.iam.roles.set(wakeKeysRoleName(emu.project), new Set(['iam.serviceAccountKeys.create', 'iam.serviceAccountKeys.list']));
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('fresh'), journalOf('fresh'))).toBeUndefined();
    } finally {
      emu.grantOnly(undefined);
      emu.iam.roles.set(wakeKeysRoleName(emu.project), new Set(GCP_WAKE_KEYS_ROLE_PERMISSIONS));
    }
    expect(offLines()[0]).toContain('lack iam.serviceAccountKeys.delete');
    expect(journalOf('fresh').find('gcp:wake-key')).toMatchObject({ phase: 'deleting', id: freshId });
    expect(keysOf(shared)).toContain(freshId);
    await gcp.destroy(ctxOf('fresh'), journalOf('fresh'));
    expect(keysOf(shared)).toEqual([newId]);
  });

  it('an answer lost on the key create: init fails, the re-run names the key it may have left (one of those made since), and carries on', async () => {
    await gcp.apply(ctxOf('lossy'), journalOf('lossy'), bootstrap);
    emu.faults.failCall(/^POST .*\/serviceAccounts\/[^/]+\/keys$/, 1, 'lost');
    await expect(gcp.issueWakeCredential!(ctxOf('lossy'), journalOf('lossy'))).rejects.toThrow();
    expect(journalOf('lossy').find('gcp:wake-key')?.phase).toBe('intent');
    const orphan = keysOf(shared).find((id) => id !== journalOf('wakeme').find('gcp:wake-key')!.id)!;
    expect(orphan).toBeDefined(); // the call took effect
    lines.length = 0;
    const wake = await gcp.issueWakeCredential!(ctxOf('lossy'), journalOf('lossy'));
    expect(wake).toBeDefined();
    const note = lines.find((l) => l.startsWith('an interrupted run may have left a key'))!;
    expect(note).toContain(orphan);
    expect(note).toContain(`gcloud iam service-accounts keys delete KEY_ID --iam-account ${shared}`);
    expect(journalOf('lossy').find('gcp:wake-key')?.phase).toBe('created');
    await gcp.destroy(ctxOf('lossy'), journalOf('lossy'));
    // the orphan stays (it cannot be told apart); removed by hand as the line says
    expect(keysOf(shared)).toContain(orphan);
    emu.iam.account(shared).keys.delete(orphan);
  });

  it('no right on the shared account (the set-up grant is missing, or the account is): one line naming the gcloud commands, wake off, nothing left behind', async () => {
    await gcp.apply(ctxOf('norole'), journalOf('norole'), bootstrap);
    const keys = keysOf(shared).length;
    const grant = emu.iam.accountPolicyOf(shared).bindings;
    emu.iam.setAccountPolicy(shared, []);
    emu.grantOnly(GCP_ROLE_PERMISSIONS);
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('norole'), journalOf('norole'))).toBeUndefined();
    } finally {
      emu.iam.setAccountPolicy(shared, grant);
    }
    expect(offLines()).toHaveLength(1);
    expect(offLines()[0]).toMatch(/lack iam\.serviceAccountKeys\.(list|create)/);
    expect(offLines()[0]).toContain(`gcloud iam service-accounts create crawl4ai-mcp-wake --project ${emu.project} --display-name "crawl4ai-mcp wake (start only)"`);
    expect(offLines()[0]).toContain(`gcloud iam service-accounts add-iam-policy-binding ${shared} --member serviceAccount:crawl4ai-mcp@${emu.project}.iam.gserviceaccount.com --role ${wakeKeysRoleName(emu.project)}`);
    expect(keysOf(shared)).toHaveLength(keys);
    expect(journalOf('norole').find('gcp:wake-key')?.phase ?? 'deleted').toBe('deleted');

    // the account does not exist: refused alike to a caller without project-level rights
    const account = emu.iam.account(shared);
    emu.iam.accounts.delete(shared);
    const mark = emu.requests.length;
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('norole'), journalOf('norole'))).toBeUndefined();
    } finally {
      emu.iam.accounts.set(shared, account);
      emu.grantOnly(undefined);
    }
    expect(offLines()).toHaveLength(1);
    expect(offLines()[0]).toContain('gcloud iam service-accounts create crawl4ai-mcp-wake');
    // init never makes a service account, only keys of the shared one
    expect(emu.requests.slice(mark).filter((r) => r.path.includes('/serviceAccounts') && r.method === 'POST' && !r.path.endsWith('/keys'))).toEqual([]);
  });

  it('an org policy that forbids keys, the 10-keys limit, or a missing crawl4aiMcpWake role: wake off, and the key just made is deleted', async () => {
    const keys = keysOf(shared).length;
    emu.iam.keyCreationDisabled = true;
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('norole'), journalOf('norole'))).toBeUndefined();
    } finally {
      emu.iam.keyCreationDisabled = false;
    }
    expect(offLines()[0]).toContain('constraints/iam.disableServiceAccountKeyCreation');
    expect(keysOf(shared)).toHaveLength(keys);

    // other deployments' keys (or orphans) fill the account to Google's limit
    const token = await tokenOf(emu.serviceAccountKey);
    const fillers: string[] = [];
    while (keysOf(shared).length < 10) fillers.push((await iamCall(token, 'POST', `/${shared}/keys`, {})).json.name!.split('/').pop()!);
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('norole'), journalOf('norole'))).toBeUndefined();
    } finally {
      for (const id of fillers) emu.iam.account(shared).keys.delete(id);
    }
    expect(emu.requests.filter((r) => r.path.endsWith('/keys') && r.method === 'POST').at(-1)).toMatchObject({ status: 400, reason: 'FAILED_PRECONDITION' });
    expect(offLines()).toHaveLength(1);
    expect(offLines()[0]).toContain('already holds 10 keys');
    expect(offLines()[0]).toContain(`gcloud iam service-accounts keys list --iam-account ${shared}`);
    expect(keysOf(shared)).toHaveLength(keys);

    emu.iam.roles.delete(wakeRoleName(emu.project));
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('norole'), journalOf('norole'))).toBeUndefined();
    } finally {
      emu.iam.roles.set(wakeRoleName(emu.project), new Set(GCP_WAKE_ROLE_PERMISSIONS));
    }
    expect(offLines()[0]).toContain(`gcloud iam roles create crawl4aiMcpWake --project ${emu.project} --file templates/policies/gcp-wake-role.yaml`);
    expect(keysOf(shared)).toHaveLength(keys);
    expect(journalOf('norole').find('gcp:wake-key')?.phase).toBe('deleted');
    await gcp.destroy(ctxOf('norole'), journalOf('norole'));
  });

  it('destroy deletes the deployment\'s key by its journaled id; with the state file lost the key stays (it cannot be told apart)', async () => {
    lines.length = 0;
    await gcp.destroy(ctxOf('wakeme'), journalOf('wakeme'));
    expect(lines.some((l) => l.startsWith('deleting the wake credential (key '))).toBe(true);
    expect(keysOf(shared)).toEqual([]);
    await expect(tokenOf(keyJson)).rejects.toThrow(/Invalid JWT Signature/);
    expect(emu.iam.accounts.has(shared)).toBe(true); // the shared account is the user's

    // a deployment made by the earlier version (its own account c4m-wake-<hash>): named, not deleted (no iam.serviceAccounts.delete any more)
    const legacy = `c4m-wake-0123456789ab@${emu.project}.iam.gserviceaccount.com`;
    await journalOf('other').intend('gcp:wake-account', 'gcp:wake-account', { meta: { notTagged: true, email: legacy } });
    await journalOf('other').created('gcp:wake-account', legacy);
    lines.length = 0;
    await gcp.issueWakeCredential!(ctxOf('other'), journalOf('other'));
    expect(lines).toContain(`the wake service account ${legacy} made by an earlier version is no longer used; delete it (and its keys): gcloud iam service-accounts delete ${legacy} --project ${emu.project}`);
    expect(journalOf('other').find('gcp:wake-account')?.phase).toBe('deleted');

    // then its state file is gone
    const lost = new Journal(new StateStore(path.join(dir, 'other-lost')), newDeploymentState('other'));
    const left = keysOf(shared)[0]!;
    lines.length = 0;
    await gcp.destroy(ctxOf('other'), lost);
    // named (the only key made since its VM was), not deleted
    expect(lines.find((l) => l.startsWith("without the state file this deployment's wake key cannot be told apart"))).toContain(left);
    expect(emu.resourcesOf('other')).toEqual([]);
    expect(keysOf(shared)).toHaveLength(1); // README: find it with gcloud iam service-accounts keys list
  });
});

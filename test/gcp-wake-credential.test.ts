// The Worker's wake credential on GCP, exercised through the real @google-cloud/compute clients
// against the Compute emulator's IAM side: what init creates (a service account bound to
// crawl4aiMcpWake on its own instance only), what its key may and may not do, the refusals that
// leave wake off with nothing behind, and destroy (also with the state file lost).
import { createSign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcpProvider } from '../src/providers/gcp/index.js';
import { GCP_REQUIRED_PERMISSIONS, GCP_WAKE_ROLE_PERMISSIONS } from '../src/providers/gcp/permissions.js';
import { wakeAccountEmail, wakeRoleName } from '../src/providers/gcp/wake-credential.js';
import type { ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { GOOGLE_TOKEN_URI, startGceEmulator, type GceEmulator } from './emulators/gce/index.js';

const gcp = createGcpProvider();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-gcp-wake-'));
let emu: GceEmulator;
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
  expect(key.token_uri).toBe(GOOGLE_TOKEN_URI);
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

const until = async (what: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  emu = await startGceEmulator({ transitionMs: 50 });
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.ca]);
  emu.iam.roles.set(wakeRoleName(emu.project), new Set(GCP_WAKE_ROLE_PERMISSIONS));
  for (const name of ['wakeme', 'other']) await gcp.apply(ctxOf(name), journalOf(name), bootstrap);
}, 60_000);
afterAll(async () => {
  await emu?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the GCP wake credential (real @google-cloud/compute against the emulator)', () => {
  let keyJson: string;

  it('init makes a service account bound to crawl4aiMcpWake on its own instance only, and its key goes out as WAKE_GCP_KEY', async () => {
    const wake = await gcp.issueWakeCredential!(ctxOf('wakeme'), journalOf('wakeme'));
    expect(wake).toBeDefined();
    const inst = instanceOf('wakeme');
    expect(wake!.vars).toEqual({ WAKE_CLOUD: 'gcp' });
    expect(wake!.secrets.WAKE_GCP_INSTANCE).toBe(`projects/${emu.project}/zones/${inst.zone}/instances/${inst.name}`);
    keyJson = wake!.secrets.WAKE_GCP_KEY!;
    const email = wakeAccountEmail('wakeme', emu.project);
    expect(email).toMatch(/^c4m-wake-[0-9a-f]{12}@/);
    expect(JSON.parse(keyJson).client_email).toBe(email);
    // bound on this instance, nowhere else
    expect(emu.iam.policyJson(`${inst.zone}/${inst.name}`).bindings).toEqual([{ role: wakeRoleName(emu.project), members: [`serviceAccount:${email}`] }]);
    const other = instanceOf('other');
    expect(emu.iam.policyJson(`${other.zone}/${other.name}`).bindings).toBeUndefined();
    // journaled by name, no key in the state file
    const rec = journalOf('wakeme').find('gcp:wake-account')!;
    expect(rec).toMatchObject({ phase: 'created', id: email });
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

  it('its key is refused stop, delete, setMetadata, another instance and every IAM call', async () => {
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
    for (const [method, url] of [
      ['POST', `${emu.url}/v1/projects/${emu.project}/serviceAccounts`],
      ['POST', `${emu.url}/v1/projects/${emu.project}/serviceAccounts/${wakeAccountEmail('wakeme', emu.project)}/keys`],
      ['DELETE', `${emu.url}/v1/projects/${emu.project}/serviceAccounts/${wakeAccountEmail('wakeme', emu.project)}`],
    ] as const) {
      const res = await fetch(url, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: method === 'POST' ? '{"accountId":"c4m-wake-evil00"}' : undefined });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { status: string } }).error.status).toBe('PERMISSION_DENIED');
    }
    expect(instanceOf('wakeme').status).toBe('RUNNING');
    expect(instanceOf('other').status).toBe('TERMINATED');
  });

  it('a re-run issues a fresh key and deletes the old one (its JWT is refused), waiting out a concurrent policy change and IAM propagation', async () => {
    emu.iam.concurrentPolicyChanges = 1;
    const before = emu.requests.filter((r) => r.path.endsWith('/setIamPolicy')).length;
    // the binding exists: no write needed, so the race does not matter here
    const again = await gcp.issueWakeCredential!(ctxOf('wakeme'), journalOf('wakeme'));
    expect(again!.secrets.WAKE_GCP_KEY).not.toBe(keyJson);
    expect(emu.iam.account(wakeAccountEmail('wakeme', emu.project)).keys.size).toBe(1);
    await expect(tokenOf(keyJson)).rejects.toThrow(/Invalid JWT Signature/);
    expect(await tokenOf(again!.secrets.WAKE_GCP_KEY!)).toMatch(/^ya29\./);
    expect(emu.requests.filter((r) => r.path.endsWith('/setIamPolicy')).length).toBe(before);
    keyJson = again!.secrets.WAKE_GCP_KEY!;

    // a fresh deployment: the new account is not a valid member for a moment, and another writer changes the policy once
    await gcp.apply(ctxOf('fresh'), journalOf('fresh'), bootstrap);
    emu.iam.propagationMs = 300;
    try {
      const fresh = await gcp.issueWakeCredential!(ctxOf('fresh'), journalOf('fresh'));
      expect(fresh).toBeDefined();
      const sets = emu.requests.filter((r) => r.path.endsWith(`/instances/crawl4ai-mcp-fresh/setIamPolicy`));
      expect(sets.map((r) => r.status)).toContain(400); // "Service account … does not exist." while IAM propagates
      expect(sets.map((r) => r.status)).toContain(409); // "There were concurrent policy changes"
      expect(sets.at(-1)!.status).toBe(200);
    } finally {
      emu.iam.propagationMs = 0;
      emu.iam.concurrentPolicyChanges = 0;
    }
    await gcp.destroy(ctxOf('fresh'), journalOf('fresh'));
  });

  it('credentials whose role predates wake on request: one line, wake off, nothing left behind', async () => {
    await gcp.apply(ctxOf('norole'), journalOf('norole'), bootstrap);
    const accounts = emu.iam.accounts.size;
    emu.grantOnly(GCP_REQUIRED_PERMISSIONS);
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('norole'), journalOf('norole'))).toBeUndefined();
    } finally {
      emu.grantOnly(undefined);
    }
    const off = lines.filter((l) => l.startsWith('wake on request is off'));
    expect(off).toHaveLength(1);
    expect(off[0]).toContain('iam.serviceAccounts.create');
    expect(off[0]).toContain('gcloud iam roles update crawl4aiMcp');
    expect(emu.iam.accounts.size).toBe(accounts);
    expect(journalOf('norole').find('gcp:wake-account')?.phase).toBe('deleted');
  });

  it('an org policy that forbids keys, or a missing crawl4aiMcpWake role: wake off, and the account just made is deleted', async () => {
    const accounts = emu.iam.accounts.size;
    emu.iam.keyCreationDisabled = true;
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('norole'), journalOf('norole'))).toBeUndefined();
    } finally {
      emu.iam.keyCreationDisabled = false;
    }
    expect(lines.find((l) => l.startsWith('wake on request is off'))).toContain('constraints/iam.disableServiceAccountKeyCreation');
    expect(emu.iam.accounts.size).toBe(accounts);

    emu.iam.roles.delete(wakeRoleName(emu.project));
    lines.length = 0;
    try {
      expect(await gcp.issueWakeCredential!(ctxOf('norole'), journalOf('norole'))).toBeUndefined();
    } finally {
      emu.iam.roles.set(wakeRoleName(emu.project), new Set(GCP_WAKE_ROLE_PERMISSIONS));
    }
    expect(lines.find((l) => l.startsWith('wake on request is off'))).toContain(`gcloud iam roles create crawl4aiMcpWake --project ${emu.project} --file templates/policies/gcp-wake-role.yaml`);
    expect(emu.iam.accounts.size).toBe(accounts);
    await gcp.destroy(ctxOf('norole'), journalOf('norole'));
  });

  it('destroy deletes the service account (its keys go with it), also with the state file lost', async () => {
    await gcp.destroy(ctxOf('wakeme'), journalOf('wakeme'));
    expect(emu.iam.accounts.has(wakeAccountEmail('wakeme', emu.project))).toBe(false);
    await expect(tokenOf(keyJson)).rejects.toThrow(/Invalid JWT Signature/);

    // another deployment's credential, then its state file is gone
    await gcp.issueWakeCredential!(ctxOf('other'), journalOf('other'));
    expect(emu.iam.accounts.has(wakeAccountEmail('other', emu.project))).toBe(true);
    const lost = new Journal(new StateStore(path.join(dir, 'other-lost')), newDeploymentState('other'));
    lines.length = 0;
    await gcp.destroy(ctxOf('other'), lost);
    expect(lines.some((l) => l.startsWith('deleting the wake credential (service account c4m-wake-'))).toBe(true);
    expect(emu.iam.accounts.size).toBe(0);
    expect(emu.resourcesOf('other')).toEqual([]);
  });
});

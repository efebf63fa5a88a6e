// The Worker's wake on request on GCP (src/worker/wake-gcp.ts) against the Compute emulator: a
// WebCrypto-signed JWT of the key init issued, exchanged at https://oauth2.googleapis.com/token, and
// Compute calls to https://compute.googleapis.com, each sent the way the edge would (EdgeOutbound:
// the public hostname forwarded to the loopback emulator, its certificate checked for that name).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OriginUnreachableError, TUNNEL_DOWN_MESSAGE, type Crawl4aiOrigin } from '../src/mcp/origin.js';
import { createGcpProvider } from '../src/providers/gcp/index.js';
import type { ProviderContext } from '../src/providers/provider.js';
import { Journal } from '../src/state/journal.js';
import { newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';
import { gcpPower, gcpWakeTarget, resetGcpTokens } from '../src/worker/wake-gcp.js';
import { BOOT_SECONDS, resetWakeGuard, wakeTargetFor, wakingOrigin } from '../src/worker/wake.js';
import { EdgeOutbound } from './emulators/cloudflare/edge-outbound.js';
import { GOOGLE_TOKEN_URI, startGceEmulator, type GceEmulator } from './emulators/gce/index.js';
import { setUpGcpWake } from './helpers/gcp-wake-setup.js';
import { failure, until } from './helpers/wake.js';

const gcp = createGcpProvider();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-gcp-worker-wake-'));
let emu: GceEmulator;
let edge: EdgeOutbound;
const secrets = new Map<string, Record<string, string>>();

const ctxOf = (name: string): ProviderContext => ({
  spec: { name, provider: 'gcp', region: 'us-central1', size: 'small', network: 'tunnel', profile: 'default' },
  credentials: { kind: 'static', values: { serviceAccountKey: emu.serviceAccountKey } },
  env: { CRAWL4AI_MCP_GCP_ENDPOINT: emu.url },
  pollMs: 20,
  progress: () => {},
  debug: () => {},
});
const journalOf = (name: string) => new Journal(new StateStore(path.join(dir, name)), newDeploymentState(name));

/** fetch() as the edge does it for Google's public hostnames: to the emulator, certificate checked for that name. */
const edgeFetch = (async (input: Request | string | URL, init?: RequestInit) => {
  const req = input instanceof Request ? input : new Request(input, init);
  expect(['https://oauth2.googleapis.com', 'https://compute.googleapis.com']).toContain(new URL(req.url).origin);
  return edge.fetch(req, 'crawl4ai-mcp-wakeme.example.workers.dev');
}) as typeof fetch;

const statusOf = (name: string) => {
  emu.state.tick();
  return [...emu.state.instances.values()].find((i) => i.name === `crawl4ai-mcp-${name}`)!.status;
};
/** powered off from inside, as the idle watchdog does */
async function stopped(name: string): Promise<void> {
  emu.guestShutdown(`crawl4ai-mcp-${name}`);
  await until(() => statusOf(name) === 'TERMINATED');
}
const starts = () => emu.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/start'));
const tokenCalls = () => emu.requests.filter((r) => r.path === '/token');

/** An origin whose VM is off, as the tunnel binding says it. */
const downOrigin = (how: 'throws' | 522 = 'throws'): Crawl4aiOrigin => ({
  label: 'test origin',
  fetch: async () => {
    if (how === 'throws') throw new OriginUnreachableError(TUNNEL_DOWN_MESSAGE, 'run `crawl4ai-mcp status` (or `crawl4ai-mcp start` if the VM is stopped)');
    return new Response('error code: 522', { status: 522 });
  },
});
const target = (s = secrets.get('wakeme')!) => gcpWakeTarget({ key: s.WAKE_GCP_KEY!, instance: s.WAKE_GCP_INSTANCE! }, edgeFetch);

beforeAll(async () => {
  emu = await startGceEmulator({ transitionMs: 300 });
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), emu.ca]);
  setUpGcpWake(emu);
  // the edge's trust store stands in as the emulator's CA; the name checked is Google's
  edge = new EdgeOutbound({
    'oauth2.googleapis.com': { url: emu.url, ca: emu.ca },
    'compute.googleapis.com': { url: emu.url, ca: emu.ca },
  });
  for (const name of ['wakeme', 'other', 'unbound']) {
    await gcp.apply(ctxOf(name), journalOf(name), () => ({ userData: '#cloud-config\n', inboundPorts: [] }));
    // 'unbound' has no wake credential: the shared account is not bound on its instance
    if (name !== 'unbound') secrets.set(name, (await gcp.issueWakeCredential!(ctxOf(name), journalOf(name)))!.secrets);
  }
}, 60_000);
afterAll(async () => {
  await emu?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  resetWakeGuard();
  resetGcpTokens();
});

describe('the Worker wakes its stopped VM on GCP (WebCrypto JWT grant, Compute REST, through the edge)', () => {
  it('a tool call that finds the VM stopped starts it once and says when to call again; the token is fetched once', async () => {
    await stopped('wakeme');
    const before = starts().length;
    const tokensBefore = tokenCalls().length;
    const origin = wakingOrigin(downOrigin(), target());
    const text = await failure(origin.fetch('/crawl', { method: 'POST' }));
    expect(text).toContain(`Error: your crawler is starting, ready in about ${BOOT_SECONDS} s — call again`);
    expect(starts().length).toBe(before + 1);
    expect(starts().at(-1)!.status).toBe(200);
    expect(['STAGING', 'RUNNING']).toContain(statusOf('wakeme'));
    expect(statusOf('other')).toBe('RUNNING');

    const again = await failure(origin.fetch('/crawl', { method: 'POST' }));
    expect(again).toMatch(/your crawler is starting, ready in about \d+ s — call again/);
    expect(starts().length).toBe(before + 1);
    // one token for both calls: kept per isolate until shortly before it expires
    expect(tokenCalls().length).toBe(tokensBefore + 1);
    await until(() => statusOf('wakeme') === 'RUNNING');
  });

  it('a burst of concurrent calls starts the VM once', async () => {
    await stopped('wakeme');
    const before = starts().length;
    const origin = wakingOrigin(downOrigin(522), target());
    const texts = await Promise.all(Array.from({ length: 6 }, () => failure(origin.fetch('/md', { method: 'POST' }))));
    for (const t of texts) expect(t).toContain('your crawler is starting');
    expect(starts().length).toBe(before + 1);
    await until(() => statusOf('wakeme') === 'RUNNING');
  });

  it('a VM still stopping is not started: the caller is told to call again in a minute', async () => {
    emu.guestShutdown('crawl4ai-mcp-wakeme');
    expect(statusOf('wakeme')).toBe('STOPPING');
    const before = starts().length;
    const text = await failure(wakingOrigin(downOrigin(), target()).fetch('/crawl'));
    expect(text).toContain('your crawler is stopping');
    expect(starts().length).toBe(before);
    await until(() => statusOf('wakeme') === 'TERMINATED');
  });

  it('a wrong key (unknown to Google) starts nothing: the origin’s own error stands and tells the caller `crawl4ai-mcp start`', async () => {
    expect(statusOf('wakeme')).toBe('TERMINATED');
    const before = starts().length;
    // well-formed, with Google's token_uri, but a key Google never issued
    const forged = { ...secrets.get('wakeme')!, WAKE_GCP_KEY: JSON.stringify({ ...JSON.parse(emu.foreignServiceAccountKey), token_uri: GOOGLE_TOKEN_URI }) };
    const text = await failure(wakingOrigin(downOrigin(), target(forged)).fetch('/crawl'));
    expect(text).toContain(TUNNEL_DOWN_MESSAGE);
    expect(text).toContain('crawl4ai-mcp start');
    expect(emu.requests.filter((r) => r.path === '/token').at(-1)!.status).toBe(400); // invalid_grant
    expect(starts().length).toBe(before);
    expect(statusOf('wakeme')).toBe('TERMINATED');
  });

  it('a wake key cannot read or start an instance the shared account is not bound on: nothing starts', async () => {
    await gcp.stop(ctxOf('unbound'), journalOf('unbound'));
    const zone = [...emu.state.instances.values()].find((i) => i.name === 'crawl4ai-mcp-unbound')!.zone;
    const unbound = `projects/${emu.project}/zones/${zone}/instances/crawl4ai-mcp-unbound`;
    const crossed = { ...secrets.get('wakeme')!, WAKE_GCP_INSTANCE: unbound };
    const text = await failure(wakingOrigin(downOrigin(), target(crossed)).fetch('/crawl'));
    expect(text).toContain('crawl4ai-mcp start');
    expect(emu.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/instances/crawl4ai-mcp-unbound')).at(-1)!.status).toBe(403);
    expect(emu.requests.filter((r) => r.path.endsWith('/instances/crawl4ai-mcp-unbound/start'))).toEqual([]);
    expect(statusOf('unbound')).toBe('TERMINATED');
  });

  it('the trade-off of one shared account: another deployment\'s key may start this VM (start and get only, nothing else)', async () => {
    expect(statusOf('wakeme')).toBe('TERMINATED');
    const crossed = { ...secrets.get('other')!, WAKE_GCP_INSTANCE: secrets.get('wakeme')!.WAKE_GCP_INSTANCE! };
    const before = starts().length;
    expect(await failure(wakingOrigin(downOrigin(), target(crossed)).fetch('/crawl'))).toContain('your crawler is starting');
    expect(starts().length).toBe(before + 1);
    await until(() => statusOf('wakeme') === 'RUNNING');
  });

  it('is off unless WAKE_CLOUD=gcp, the key and the instance are all set; reads Compute statuses', () => {
    const s = secrets.get('wakeme')!;
    const full = { WAKE_CLOUD: 'gcp', WAKE_GCP_KEY: s.WAKE_GCP_KEY, WAKE_GCP_INSTANCE: s.WAKE_GCP_INSTANCE };
    expect(wakeTargetFor(full)).toBeDefined();
    for (const k of Object.keys(full)) expect(wakeTargetFor({ ...full, [k]: undefined })).toBeUndefined();
    expect(wakeTargetFor({ ...full, WAKE_GCP_KEY: 'not json' })).toBeUndefined();
    expect(wakeTargetFor({ ...full, WAKE_CLOUD: 'aws' })).toBeUndefined();
    expect(gcpPower({ status: 'TERMINATED' })).toEqual({ state: 'stopped' });
    expect(gcpPower({ status: 'SUSPENDED' })).toEqual({ state: 'stopped' });
    expect(gcpPower({ status: 'STAGING' })).toEqual({ state: 'pending' });
    expect(gcpPower({ status: 'STOPPING' })).toEqual({ state: 'stopping' });
    expect(gcpPower({ status: 'RUNNING', lastStartTimestamp: '2026-12-07T05:00:00.000-08:00' })).toEqual({ state: 'running', since: Date.parse('2026-12-07T13:00:00.000Z') });
  });
});

// The Worker's wake on request (src/worker/wake.ts) against the EC2 emulator: real SigV4 from
// aws4fetch with a key the IAM emulator issued (the emulator verifies each signature with that
// key's secret and judges the call by the wake policy), sent to EC2's public hostname the way the
// edge would (forwarded to the loopback emulator with the Host kept, as in edge-outbound.ts).
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_CONFIG_FILE = '/nonexistent';
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent';

import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWakeCredential, type WakeKey } from '../src/providers/aws/wake-credential.js';
import { OriginUnreachableError, type Crawl4aiOrigin } from '../src/mcp/origin.js';
import { awsWakeTarget, BOOT_SECONDS, parseInstances, resetWakeGuard, wakeTargetFor, wakingOrigin } from '../src/worker/wake.js';
import { forwardHttp } from './emulators/cloudflare/edge-outbound.js';
import { launchDeploymentInstance } from './helpers/ec2-instances.js';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.js';
import { failure, until } from './helpers/wake.js';

const region = 'us-east-1';
const admin = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const TRANSITION_MS = 400;

let emu: Ec2Emulator;
let key: WakeKey;
let mine: string;
let theirs: string;
const ec2 = () => new EC2Client({ endpoint: emu.url, region, credentials: admin, maxAttempts: 1 });

/** fetch() as the edge does it for https://ec2.us-east-1.amazonaws.com: to the emulator, Host unchanged. */
const edgeFetch = (async (input: Request | string | URL) => {
  const req = input instanceof Request ? input : new Request(input);
  expect(new URL(req.url).origin).toBe('https://ec2.us-east-1.amazonaws.com');
  const out = await forwardHttp(req, emu.url);
  if ('response' in out) return out.response;
  throw new Error(out.detail);
}) as typeof fetch;

const launch = (deployment: string) => launchDeploymentInstance(() => ec2(), deployment);

const stateOf = (id: string) => emu.state.instanceState(emu.state.instances.get(id)!);
/** powered off from inside, as the idle watchdog does */
async function stopped(id: string): Promise<void> {
  emu.guestShutdown(id);
  await until(() => stateOf(id) === 'stopped');
}
const starts = () => emu.requests.filter((r) => r.action === 'StartInstances');

/** An origin whose VM is off: the tunnel binding throws (tunnel mode) or the edge answers 522 (public mode). */
const downOrigin = (how: 'throws' | 522 = 'throws'): Crawl4aiOrigin => ({
  label: 'test origin',
  fetch: async () => {
    if (how === 'throws') throw new OriginUnreachableError('your crawler VM is not connected (tunnel down or VM stopped)', 'run `crawl4ai-mcp status`');
    return new Response('error code: 522', { status: 522 });
  },
});

const target = (k: WakeKey = key, deployment = 'wakeme') => awsWakeTarget({ region, deployment, ...k }, edgeFetch);

beforeAll(async () => {
  emu = await startEc2Emulator({ transitionMs: TRANSITION_MS, accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey });
  mine = await launch('wakeme');
  theirs = await launch('someone-else');
  emu.useIamPolicy('template');
  key = await createWakeCredential(new IAMClient({ endpoint: emu.url, region, credentials: admin, maxAttempts: 1 }), 'wakeme', region);
});
afterAll(async () => {
  await emu?.close();
});
beforeEach(() => resetWakeGuard());

describe('the Worker wakes its stopped VM (aws4fetch SigV4, verified by the emulator)', () => {
  it('a tool call that finds the VM stopped starts it and says when to call again; the next calls say it is starting without a second start', async () => {
    await stopped(mine);
    const before = starts().length;
    const origin = wakingOrigin(downOrigin(), target());
    const text = await failure(origin.fetch('/crawl', { method: 'POST' }));
    expect(text).toContain(`Error: your crawler is starting, ready in about ${BOOT_SECONDS} s — call again`);
    expect(starts().length).toBe(before + 1);
    // signed by the wake key, and the emulator checked that signature with its secret
    expect(starts().at(-1)!.accessKeyId).toBe(key.accessKeyId);
    expect(starts().at(-1)!.error).toBeUndefined();
    expect(['pending', 'running']).toContain(stateOf(mine));
    expect(stateOf(theirs)).toBe('running');

    const again = await failure(origin.fetch('/crawl', { method: 'POST' }));
    expect(again).toMatch(/your crawler is starting, ready in about \d+ s — call again/);
    expect(starts().length).toBe(before + 1);
    await until(() => stateOf(mine) === 'running');
  });

  it('a burst of concurrent calls starts the VM once', async () => {
    await stopped(mine);
    const before = starts().length;
    const origin = wakingOrigin(downOrigin(522), target());
    const texts = await Promise.all(Array.from({ length: 6 }, () => failure(origin.fetch('/md', { method: 'POST' }))));
    for (const t of texts) expect(t).toContain('your crawler is starting');
    expect(starts().length).toBe(before + 1);
    await until(() => stateOf(mine) === 'running');
  });

  it('a VM still stopping is not started: the caller is told to call again in a minute', async () => {
    emu.guestShutdown(mine);
    expect(stateOf(mine)).toBe('stopping');
    const before = starts().length;
    const text = await failure(wakingOrigin(downOrigin(), target()).fetch('/crawl'));
    expect(text).toContain('your crawler is stopping');
    expect(text).toContain('call again in about 60 s');
    expect(starts().length).toBe(before);
    await until(() => stateOf(mine) === 'stopped');
  });

  it('a wrong secret signs a request EC2 refuses (SignatureDoesNotMatch): nothing starts and the origin’s own error stands', async () => {
    await until(() => stateOf(mine) === 'stopped' || stateOf(mine) === 'running');
    if (stateOf(mine) === 'running') await stopped(mine);
    const before = starts().length;
    const forged = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey.slice(0, -1) + (key.secretAccessKey.endsWith('A') ? 'B' : 'A') };
    const text = await failure(wakingOrigin(downOrigin(), target(forged)).fetch('/crawl'));
    expect(text).toContain('your crawler VM is not connected');
    expect(emu.requests.at(-1)!.error).toBe('SignatureDoesNotMatch');
    expect(starts().length).toBe(before);
    expect(stateOf(mine)).toBe('stopped');
  });

  it('the wake key of another deployment cannot start this VM: the caller hears it could not be started', async () => {
    // a key whose policy names deployment "someone-else", pointed at this deployment's tags
    const other = await createWakeCredential(new IAMClient({ endpoint: emu.url, region, credentials: admin, maxAttempts: 1 }), 'someone-else', region);
    const text = await failure(wakingOrigin(downOrigin(), target(other, 'wakeme')).fetch('/crawl'));
    expect(text).toContain('your crawler VM is stopped and could not be started from here (EC2 StartInstances failed: UnauthorizedOperation)');
    expect(text).toContain('crawl4ai-mcp start');
    expect(stateOf(mine)).toBe('stopped');
  });

  it('a running VM whose origin answers passes through untouched, and a running VM past its boot time leaves the origin’s error as it is', async () => {
    const t = target();
    await t.start();
    await until(() => stateOf(mine) === 'running');
    const ok = wakingOrigin({ fetch: async () => new Response('{"status":"ok"}', { status: 200 }) }, t);
    expect((await ok.fetch('/health')).status).toBe(200);
    // 10 minutes later Crawl4AI is down on a running VM: not a wake case
    const later = () => Date.now() + 10 * 60_000;
    const text = await failure(wakingOrigin(downOrigin(), t, later).fetch('/crawl'));
    expect(text).toContain('your crawler VM is not connected');
    const res = await wakingOrigin({ fetch: async () => new Response('error code: 521', { status: 521 }) }, t, later).fetch('/crawl');
    expect(res.status).toBe(521);
    // just started (by its owner's `start`): Caddy's 502 while Crawl4AI boots means "starting"
    const booting = await failure(wakingOrigin({ fetch: async () => new Response('Bad Gateway', { status: 502 }) }, t).fetch('/crawl'));
    expect(booting).toMatch(/your crawler is starting, ready in about \d+ s — call again/);
    // Crawl4AI's own "busy" is no wake case
    expect((await wakingOrigin({ fetch: async () => new Response('{"detail":"busy"}', { status: 503 }) }, t).fetch('/crawl')).status).toBe(503);
  });

  it('is off unless every WAKE_* var and secret is set', () => {
    const full = { WAKE_CLOUD: 'aws', WAKE_AWS_REGION: region, WAKE_AWS_DEPLOYMENT: 'wakeme', WAKE_AWS_ACCESS_KEY_ID: 'AKIA', WAKE_AWS_SECRET_ACCESS_KEY: 's' };
    expect(wakeTargetFor(full)).toBeDefined();
    for (const k of Object.keys(full)) expect(wakeTargetFor({ ...full, [k]: undefined })).toBeUndefined();
    expect(wakeTargetFor({ ...full, WAKE_CLOUD: 'gcp' })).toBeUndefined();
  });

  it('reads id, state and launch time per instance from a DescribeInstances answer', () => {
    const xml =
      '<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId><imageId>ami-1</imageId><instanceState><code>80</code><name>stopped</name></instanceState><launchTime>2026-12-07T05:00:00.000Z</launchTime></item>' +
      '<item><instanceId>i-2</instanceId><instanceState><code>0</code><name>pending</name></instanceState></item></instancesSet></item></reservationSet></DescribeInstancesResponse>';
    expect(parseInstances(xml)).toEqual([
      { id: 'i-1', state: 'stopped', launchTime: Date.parse('2026-12-07T05:00:00.000Z') },
      { id: 'i-2', state: 'pending' },
    ]);
    const held = '<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-3</instanceId><instanceState><code>80</code><name>stopped</name></instanceState><tagSet><item><key>crawl4ai-mcp:hold</key><value>2026-12-07T12:00:00Z</value></item></tagSet></item></instancesSet></item></reservationSet></DescribeInstancesResponse>';
    expect(parseInstances(held)).toEqual([{ id: 'i-3', state: 'stopped', held: true }]);
  });
});

describe('the start guard', () => {
  it('a VM stopped again after it answered is started again at once (the guard covers only a start not yet visible)', async () => {
    resetWakeGuard();
    await until(() => stateOf(mine) === 'stopped' || stateOf(mine) === 'running');
    if (stateOf(mine) === 'running') await stopped(mine);
    let up = false;
    const origin = wakingOrigin({ fetch: async () => (up ? new Response('{}', { status: 200 }) : new Response('error code: 522', { status: 522 })) }, target());
    const before = starts().length;
    expect(await failure(origin.fetch('/crawl'))).toContain('your crawler is starting');
    await until(() => stateOf(mine) === 'running');
    up = true;
    expect((await origin.fetch('/crawl')).status).toBe(200);
    up = false;
    await stopped(mine);
    expect(await failure(origin.fetch('/crawl'))).toContain(`ready in about ${BOOT_SECONDS} s`);
    expect(starts().length).toBe(before + 2);
    await until(() => stateOf(mine) === 'running');
  });
});

describe('a call that may wait (it asked for progress) is held while the VM starts', () => {
  /** Crawl4AI answers only once EC2 says running (as the VM simulator's tunnel would) */
  const upWhenRunning = (): Crawl4aiOrigin => ({
    fetch: async () => {
      if (stateOf(mine) !== 'running') throw new OriginUnreachableError('your crawler VM is not connected (tunnel down or VM stopped)', 'run `crawl4ai-mcp status`');
      return new Response('{"ok":true}', { status: 200 });
    },
  });

  it('starts the VM once, tells the caller how it goes, and answers with Crawl4AI’s own answer', async () => {
    await until(() => stateOf(mine) === 'stopped' || stateOf(mine) === 'running');
    if (stateOf(mine) === 'running') await stopped(mine);
    const before = starts().length;
    const heard: string[] = [];
    const origin = wakingOrigin(upWhenRunning(), target(), Date.now, { pollMs: 50 });
    const res = await origin.fetch('/crawl', { method: 'POST' }, { waitForStart: { until: Date.now() + 20_000, progress: (m) => heard.push(m) } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"ok":true}');
    expect(starts().length).toBe(before + 1);
    expect(heard.length).toBeGreaterThan(0);
    expect(heard[0]).toMatch(/your crawler is starting, ready in about \d+ s; this call waits for it/);
  });

  it('a VM still stopping is waited out, then started, within the same call', async () => {
    emu.guestShutdown(mine);
    expect(stateOf(mine)).toBe('stopping');
    const before = starts().length;
    const heard: string[] = [];
    const origin = wakingOrigin(upWhenRunning(), target(), Date.now, { pollMs: 50 });
    const res = await origin.fetch('/crawl', {}, { waitForStart: { until: Date.now() + 20_000, progress: (m) => heard.push(m) } });
    expect(res.status).toBe(200);
    expect(heard[0]).toContain('your crawler is stopping');
    expect(heard.some((m) => m.includes('starting'))).toBe(true);
    expect(starts().length).toBe(before + 1);
  });

  it('past its bound the caller hears when to call again, and the VM keeps starting', async () => {
    await stopped(mine);
    const heard: string[] = [];
    const origin = wakingOrigin(downOrigin(), target(), Date.now, { pollMs: 50 });
    const t0 = Date.now();
    const text = await failure(origin.fetch('/crawl', {}, { waitForStart: { until: Date.now() + 300, progress: (m) => heard.push(m) } }));
    expect(text).toMatch(/your crawler is starting, ready in about \d+ s — call again/);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(heard.length).toBeGreaterThan(0);
    expect(['pending', 'running']).toContain(stateOf(mine));
    await until(() => stateOf(mine) === 'running');
  });

  it('a cancelled call stops waiting at once', async () => {
    await stopped(mine);
    const ctl = new AbortController();
    const origin = wakingOrigin(
      { fetch: async (_p, init) => {
        init?.signal?.throwIfAborted();
        throw new OriginUnreachableError('your crawler VM is not connected (tunnel down or VM stopped)', 'run `crawl4ai-mcp status`');
      } },
      target(),
      Date.now,
      { pollMs: 10_000 },
    );
    const t0 = Date.now();
    const p = origin.fetch('/crawl', { signal: ctl.signal }, { waitForStart: { until: Date.now() + 60_000, progress: () => ctl.abort() } });
    await expect(p).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(3_000);
    await until(() => stateOf(mine) === 'running');
  });
});

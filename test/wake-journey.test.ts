/**
 * Wake on request through the built CLI: init on the EC2 (+ IAM) and Cloudflare emulators (the
 * Worker runs in workerd; the edge routes its fetch to https://ec2.us-east-1.amazonaws.com to the
 * EC2 emulator, which verifies each SigV4 signature with the wake key's secret), then the VM is
 * stopped (by `stop`, and by the idle watchdog's guest shutdown), and a real MCP client's tool call
 * starts it; the next call after it booted succeeds; destroy leaves no IAM user.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { runCli } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';
import { connectedClient, scrapeWith, until as waitUntil } from './helpers/wake.js';

const CF_TOKEN = 'cf-token-' + 'w'.repeat(32);
const CF_ACCOUNT = 'acc000000000000000000000000000e1';
const NAME = 'wake';

describe('wake on request: a tool call starts the stopped VM, through the built CLI and a real MCP client', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;
  let instanceId: string;
  let client: Client;
  const cli = (args: string[]) => runCli(['--name', NAME, ...args], { env, timeoutMs: 240_000 });
  const stateOf = () => ec2.state.instanceState(ec2.state.instances.get(instanceId)!);
  const starts = () => ec2.requests.filter((r) => r.action === 'StartInstances');
  const wakeKeyIds = () => [...(ec2.iam.user(`${NAME}-wake`)?.keys.keys() ?? [])];
  const until = (what: () => boolean, ms = 30_000) => waitUntil(what, ms, 50);
  const scrape = () => scrapeWith(client);

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 300, accessKeyId: ACCESS_KEY, iamPolicy: 'template' });
    ec2.iam.propagationMs = 1_000; // IAM's eventual consistency after CreateUser: init waits it out
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    // what the edge does for the Worker's fetch to EC2's public endpoint
    cf.setHost('ec2.us-east-1.amazonaws.com', ec2.url);
    sim = startVmSimulator(ec2Instances(ec2, NAME), cf);
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-wake-');
  }, 60_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  it('init gives the Worker a wake key (secrets only) that IAM issued to /crawl4ai-mcp/wake-wake', async () => {
    const init = await cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--verbose']);
    expect(init.code, init.stderr).toBe(0);
    instanceId = [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === NAME)!.instanceId;
    expect(cf.secretsOf(`crawl4ai-mcp-${NAME}`)).toEqual(expect.arrayContaining(['WAKE_AWS_ACCESS_KEY_ID', 'WAKE_AWS_SECRET_ACCESS_KEY']));
    const user = ec2.iam.user(`${NAME}-wake`)!;
    expect(user.path).toBe('/crawl4ai-mcp/');
    const [secret] = [...user.keys.values()].map((k) => k.secretAccessKey);
    const state = fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${NAME}.json`), 'utf8');
    expect(state + init.stdout + init.stderr).not.toContain(secret);
    expect(JSON.parse(state).resources.find((r: { key: string }) => r.key === 'aws:wake-user')).toMatchObject({ phase: 'created', id: `${NAME}-wake` });

    client = await connectedClient(cli, NAME, 'wake-test');
    expect((await scrape()).isError).toBe(false);
  }, 300_000);

  it('after `crawl4ai-mcp stop`, the next tool call starts the VM and says when to call again; the call after it booted succeeds', async () => {
    const stop = await cli(['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stateOf()).toBe('stopped');
    await until(() => sim.current() === null);
    const before = starts().length;

    const first = await scrape();
    expect(first.isError).toBe(true);
    expect(first.text).toMatch(/your crawler is starting, ready in about 90 s — call again/);
    expect(starts().length).toBe(before + 1);
    // signed by the Worker's wake key, and verified by EC2 with that key's secret
    expect(wakeKeyIds()).toContain(starts().at(-1)!.accessKeyId);
    expect(starts().at(-1)!.error).toBeUndefined();
    expect(['pending', 'running']).toContain(stateOf());

    await until(() => sim.current() !== null);
    const second = await scrape();
    expect(second.isError, second.text).toBe(false);
    expect(second.text).toContain('docs');
    expect(starts().length).toBe(before + 1);
  }, 120_000);

  it('after the idle watchdog powered the VM off from inside, a tool call wakes it the same way', async () => {
    ec2.guestShutdown(instanceId);
    await until(() => stateOf() === 'stopped' && sim.current() === null);
    const before = starts().length;
    // the start a minute ago does not hold this one back: the VM answered since
    const first = await scrape();
    expect(first.isError).toBe(true);
    expect(first.text).toMatch(/your crawler is starting, ready in about 90 s — call again/);
    expect(starts().length).toBe(before + 1);
    await until(() => sim.current() !== null);
    const second = await scrape();
    expect(second.isError, second.text).toBe(false);
  }, 200_000);

  it('a call that asks for progress is held while the VM starts (progress notifications meanwhile) and answers with the crawl', async () => {
    ec2.guestShutdown(instanceId);
    await until(() => stateOf() === 'stopped' && sim.current() === null);
    const before = starts().length;
    const heard: Array<{ progress: number; message?: string }> = [];
    const r = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } }, undefined, {
      onprogress: (p) => heard.push(p),
      timeout: 60_000,
      resetTimeoutOnProgress: true,
    });
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    expect(JSON.stringify(r.content)).toContain('docs');
    expect(starts().length).toBe(before + 1);
    expect(heard.length).toBeGreaterThan(0);
    expect(heard[0]!.message).toMatch(/your crawler is starting, ready in about \d+ s; this call waits for it/);
    // progress only goes up
    for (let i = 1; i < heard.length; i++) expect(heard[i]!.progress).toBeGreaterThan(heard[i - 1]!.progress);
  }, 200_000);

  it('`stop --hold` keeps the VM off: a tool call hears it is on hold and starts nothing (IAM would refuse too); `start` lifts the hold', async () => {
    await until(() => sim.current() !== null);
    const stop = await cli(['stop', '--hold']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain('held: tool calls will not wake it');
    expect(ec2.state.instances.get(instanceId)!.tags['crawl4ai-mcp:hold']).toBeDefined();
    await until(() => sim.current() === null);
    const status = await cli(['status', '--json']);
    expect(JSON.parse(status.stdout).vm).toMatchObject({ state: 'stopped', held: true });
    const before = starts().length;
    const r = await scrape();
    expect(r.isError).toBe(true);
    expect(r.text).toContain('your crawler is stopped and on hold');
    expect(r.text).toContain('crawl4ai-mcp start');
    expect(starts().length).toBe(before);
    expect(stateOf()).toBe('stopped');

    const start = await cli(['start']);
    expect(start.code, start.stderr).toBe(0);
    expect(ec2.state.instances.get(instanceId)!.tags['crawl4ai-mcp:hold']).toBeUndefined();
    expect((await scrape()).isError).toBe(false);
  }, 300_000);

  it('public mode: the edge cannot reach the stopped VM behind its Elastic IP, and the tool call wakes it the same way', async () => {
    const pub = (args: string[]) => runCli(['--name', 'wakepub', ...args], { env, timeoutMs: 240_000 });
    const pubSim = startVmSimulator(ec2Instances(ec2, 'wakepub'), cf);
    let pubClient: Client | undefined;
    try {
      const init = await pub(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public']);
      expect(init.code, init.stderr).toBe(0);
      const id = [...ec2.state.instances.values()].find((i) => i.tags['crawl4ai-mcp:deployment'] === 'wakepub')!.instanceId;
      const server = JSON.parse((await pub(['connect', '--client', 'cursor'])).stdout).mcpServers['crawl4ai-wakepub'];
      pubClient = new Client({ name: 'wake-test-public', version: '1.0.0' });
      await pubClient.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
      const call = async () => {
        const r = await pubClient!.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } });
        return { isError: Boolean(r.isError), text: JSON.stringify(r.content) };
      };
      expect((await pub(['stop'])).code).toBe(0);
      await until(() => pubSim.current() === null);
      const before = starts().length;
      const first = await call();
      expect(first.text).toMatch(/your crawler is starting, ready in about 90 s — call again/);
      expect(starts().length).toBe(before + 1);
      expect(starts().at(-1)!.params['InstanceId.1']).toBe(id);
      await until(() => pubSim.current() !== null);
      expect((await call()).isError).toBe(false);
      await pubClient.close();
      expect((await pub(['destroy', '--yes'])).code).toBe(0);
      expect(ec2.iam.user('wakepub-wake')).toBeUndefined();
    } finally {
      await pubClient?.close().catch(() => undefined);
      await pubSim.stop();
    }
  }, 300_000);

  it('destroy removes the wake credential with everything else', async () => {
    await client.close();
    const destroy = await cli(['destroy', '--yes']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(ec2.iam.users.size).toBe(0);
    expect(ec2.resourcesOf(NAME)).toEqual([]);
    expect(cf.scripts()).not.toContain(`crawl4ai-mcp-${NAME}`);
  }, 120_000);
});

/**
 * Wake on request on GCP through the built CLI: init on the Compute (+ IAM) and Cloudflare
 * emulators (the Worker runs in workerd; the edge routes its fetches to https://oauth2.googleapis.com
 * and https://compute.googleapis.com to the Compute emulator, which verifies the JWT with the key it
 * issued and authorises the call by the instance's own IAM policy), then the VM is stopped and a
 * real MCP client's tool call starts it; the next call after it booted succeeds; destroy deletes
 * the deployment's key of the shared wake account (with the state file lost the key stays: README).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerDeployer } from '../src/cloudflare/worker-deployer.ts';
import { GCP_ROLE_PERMISSIONS } from '../src/providers/gcp/permissions.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { startGceEmulator, type GceEmulator } from './emulators/gce/index.ts';
import { runCli } from './helpers/cli.js';
import { setUpGcpWake } from './helpers/gcp-wake-setup.js';
import { gceInstances, gcpJourneyEnv } from './helpers/journey.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { connectedClient, scrapeWith, until as waitUntil } from './helpers/wake.js';

const CF_TOKEN = 'cf-token-' + 'x'.repeat(32);
const CF_ACCOUNT = 'acc000000000000000000000000000e2';
const NAME = 'gwake';

describe('wake on request on GCP: a tool call starts the stopped VM, through the built CLI and a real MCP client', () => {
  let gce: GceEmulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;
  let client: Client;
  let shared: string;
  const cli = (args: string[], name = NAME) => runCli(['--name', name, ...args], { env, timeoutMs: 240_000 });
  const statusOf = () => {
    gce.state.tick();
    return [...gce.state.instances.values()].find((i) => i.name === `crawl4ai-mcp-${NAME}`)!.status;
  };
  const starts = () => gce.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/instances/crawl4ai-mcp-${NAME}/start`));
  const until = (what: () => boolean, ms = 30_000) => waitUntil(what, ms, 50);
  const scrape = () => scrapeWith(client);

  beforeAll(async () => {
    gce = await startGceEmulator({ transitionMs: 300 });
    // the one-time set-up of README "GCP set-up": the roles, the shared wake account and the grant on it;
    // the installer holds only the template role (no iam.* permission)
    shared = setUpGcpWake(gce);
    gce.grantOnly(GCP_ROLE_PERMISSIONS);
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    // what the edge does for the Worker's fetches to Google: the certificate is checked for these names
    for (const host of ['oauth2.googleapis.com', 'compute.googleapis.com']) cf.setHost(host, { url: gce.url, ca: gce.ca });
    sim = startVmSimulator(gceInstances(gce, NAME), cf);
    env = gcpJourneyEnv(gce, cf, CF_TOKEN, 'c4m-gcp-wake-');
  }, 60_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await sim?.stop();
    await cf?.close();
    await gce?.close();
  });

  it('init gives the Worker a key of the shared wake account as a secret only, bound on its instance only', async () => {
    const init = await cli(['init', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'small', '--verbose']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout + init.stderr).not.toContain('wake on request is off');
    expect(cf.secretsOf(`crawl4ai-mcp-${NAME}`)).toEqual(expect.arrayContaining(['WAKE_GCP_KEY', 'WAKE_GCP_INSTANCE']));
    const account = gce.iam.account(shared);
    expect(account.keys.size).toBe(1);
    const state = fs.readFileSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${NAME}.json`), 'utf8');
    expect(state + init.stdout + init.stderr).not.toContain('PRIVATE KEY');
    expect(JSON.parse(state).resources.find((r: { key: string }) => r.key === 'gcp:wake-key')).toMatchObject({ phase: 'created', id: [...account.keys.keys()][0] });

    client = await connectedClient(cli, NAME, 'gcp-wake-test');
    expect((await scrape()).isError).toBe(false);
  }, 300_000);

  it('after `crawl4ai-mcp stop`, the next tool call starts the VM and says when to call again; the call after it booted succeeds', async () => {
    const stop = await cli(['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(statusOf()).toBe('TERMINATED');
    await until(() => sim.current() === null);
    const before = starts().length;

    const first = await scrape();
    expect(first.isError).toBe(true);
    expect(first.text).toMatch(/your crawler is starting, ready in about 90 s — call again/);
    expect(starts().length).toBe(before + 1);
    expect(starts().at(-1)!.status).toBe(200);
    expect(['STAGING', 'RUNNING']).toContain(statusOf());

    await until(() => sim.current() !== null);
    const second = await scrape();
    expect(second.isError, second.text).toBe(false);
    expect(second.text).toContain('docs');
    expect(starts().length).toBe(before + 1);
  }, 120_000);

  it('after the idle watchdog powered the VM off from inside, a burst of tool calls starts it once', async () => {
    gce.guestShutdown(`crawl4ai-mcp-${NAME}`);
    await until(() => statusOf() === 'TERMINATED' && sim.current() === null);
    const before = starts().length;
    const answers = await Promise.all(Array.from({ length: 4 }, () => scrape()));
    for (const a of answers) expect(a.text).toMatch(/your crawler is starting, ready in about \d+ s — call again/);
    expect(starts().length).toBe(before + 1);
    await until(() => sim.current() !== null);
    expect((await scrape()).isError).toBe(false);
  }, 120_000);

  it('`stop --hold` keeps the VM off: the hold label makes a tool call say so and start nothing; `start` removes it', async () => {
    const inst = () => [...gce.state.instances.values()].find((i) => i.name === `crawl4ai-mcp-${NAME}`)!;
    const stop = await cli(['stop', '--hold']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(inst().labels['crawl4ai-mcp-hold']).toBe('true');
    expect(inst().labels['crawl4ai-mcp-deployment']).toBe(NAME); // the other labels stay
    await until(() => sim.current() === null);
    expect(JSON.parse((await cli(['status', '--json'])).stdout).vm).toMatchObject({ state: 'stopped', held: true });
    const before = starts().length;
    const r = await scrape();
    expect(r.isError).toBe(true);
    expect(r.text).toContain('your crawler is stopped and on hold');
    expect(starts().length).toBe(before);
    const start = await cli(['start']);
    expect(start.code, start.stderr).toBe(0);
    expect(inst().labels['crawl4ai-mcp-hold']).toBeUndefined();
    expect((await scrape()).isError).toBe(false);
  }, 300_000);

  it('with a wrong wake key in the Worker nothing starts, and the caller is told `crawl4ai-mcp start`', async () => {
    const forged = JSON.stringify({ ...JSON.parse(gce.foreignServiceAccountKey), token_uri: 'https://oauth2.googleapis.com/token' });
    await new WorkerDeployer({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN }, env, () => {}).putSecrets(NAME, { WAKE_GCP_KEY: forged });
    expect((await cli(['stop'])).code).toBe(0);
    await until(() => sim.current() === null);
    const before = starts().length;
    const answer = await scrape();
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain('crawl4ai-mcp start');
    expect(answer.text).not.toContain('your crawler is starting');
    expect(starts().length).toBe(before);
    expect(statusOf()).toBe('TERMINATED');
  }, 120_000);

  it('destroy deletes the deployment\'s wake key with everything else; with the state file lost that key stays', async () => {
    await client.close();
    const destroy = await cli(['destroy', '--yes']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(gce.iam.account(shared).keys.size).toBe(0);
    expect(gce.resourcesOf(NAME)).toEqual([]);
    expect(cf.scripts()).not.toContain(`crawl4ai-mcp-${NAME}`);

    const lostSim = startVmSimulator(gceInstances(gce, 'gwlost'), cf);
    try {
      const init = await cli(['init', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'small'], 'gwlost');
      expect(init.code, init.stderr).toBe(0);
      expect(gce.iam.account(shared).keys.size).toBe(1);
      fs.rmSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'gwlost.json'));
      const gone = await cli(['destroy', '--yes', '--provider', 'gcp', '--region', 'us-central1'], 'gwlost');
      expect(gone.code, gone.stderr).toBe(0);
      expect(gce.resourcesOf('gwlost')).toEqual([]);
      // keys carry no labels: destroy names the candidates (here the one key made since its VM was), README says how to delete it
      expect(gce.iam.account(shared).keys.size).toBe(1);
      expect(gone.stdout + gone.stderr).toContain(`cannot be told apart: it is one of the keys of ${shared} made since its VM was`);
      expect(gone.stdout + gone.stderr).toContain([...gce.iam.account(shared).keys.keys()][0]);
    } finally {
      await lostSim.stop();
    }
  }, 400_000);
});

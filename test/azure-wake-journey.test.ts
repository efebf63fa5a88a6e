/**
 * Wake on request on Azure through the built CLI: init on the ARM/Entra and Cloudflare emulators
 * with the README's set-up (both shared roles, the deployer's condition naming them). The Worker
 * runs in workerd; the edge forwards its fetches of https://login.microsoftonline.com and
 * https://management.azure.com to the Azure emulator (certificate checked for those names), and
 * the emulator's Entra fetches the Worker's issuer documents from the Worker itself. After `stop`
 * a real MCP client's tool calls start the VM once; the call after it booted succeeds; a Worker
 * whose signing key is not its issuer's starts nothing and says so; destroy (state file lost too)
 * leaves no identity and no role assignment.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureEmulator, TYPES, type AzureEmulator } from './emulators/azure/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { createSelfDeallocateRole, deployerCondition, setUpWake } from './helpers/azure-roles.js';
import { runCli } from './helpers/cli.js';
import { azureJourneyEnv, azureVms } from './helpers/journey.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { connectedClient, scrapeWith, until as waitUntil } from './helpers/wake.js';

const CF_TOKEN = 'cf-token-' + 'q'.repeat(32);
const CF_ACCOUNT = 'acc00000000000000000000000000a2e';
const NAME = 'azwj';
const SCRIPT = `crawl4ai-mcp-${NAME}`;

describe('wake on request on Azure: a tool call starts the deallocated VM, through the built CLI and a real MCP client', () => {
  let az: AzureEmulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;
  let client: Client;
  let vmId: string;
  let principal: string;
  const cli = (args: string[]) => runCli(['--name', NAME, ...args], { env, timeoutMs: 240_000 });
  const power = () => az.state.get(vmId)?.vm?.powerState;
  const starts = () => az.requests.filter((r) => r.method === 'POST' && r.path.toLowerCase() === `${vmId}/start`.toLowerCase());
  const until = (what: () => boolean, ms = 30_000) => waitUntil(what, ms, 50);
  const scrape = () => scrapeWith(client);
  const stopped = async () => {
    const stop = await cli(['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(power()).toBe('deallocated');
    await until(() => sim.current() === null);
  };

  beforeAll(async () => {
    az = await startAzureEmulator({ lroMs: 100 });
    az.constrainRoleAssignments(deployerCondition(createSelfDeallocateRole(az), setUpWake(az)));
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    // what the edge does for the Worker's fetches to Azure's public endpoints
    for (const host of ['login.microsoftonline.com', 'management.azure.com']) cf.setHost(host, { url: az.url, ca: az.caPem });
    sim = startVmSimulator(azureVms(az, NAME), cf);
    env = azureJourneyEnv(az, cf, CF_TOKEN, 'c4m-azwake-journey-');
  }, 120_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await sim?.stop();
    await cf?.close();
    await az?.close();
  });

  it('init creates the wake identity and gives the Worker its signing key (a secret, nowhere else)', async () => {
    const init = await cli(['init', '--yes', '--provider', 'azure', '--region', 'eastus', '--size', 'small', '--verbose']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout + init.stderr).toContain('creating the wake credential (managed identity crawl4ai-mcp-azwj-wake: may start this VM and nothing else)');
    expect(init.stdout + init.stderr).not.toContain('wake on request is off');
    expect(cf.secretsOf(SCRIPT)).toEqual(expect.arrayContaining(['WAKE_AZURE_SIGNING_KEY', 'WAKE_AZURE_JWKS', 'WAKE_AZURE_ISSUER', 'WAKE_AZURE_CLIENT_ID', 'WAKE_AZURE_TENANT']));
    const statePath = path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${NAME}.json`);
    const state = fs.readFileSync(statePath, 'utf8');
    expect(state + init.stdout + init.stderr).not.toMatch(/PRIVATE KEY|MII[A-Za-z0-9+/]{40}/);
    expect(JSON.parse(state).resources.filter((r: { kind: string }) => r.kind.startsWith('azure:wake')).map((r: { phase: string }) => r.phase)).toEqual(['created', 'created']);
    vmId = az.resourcesOf(NAME).find((r) => r.type === TYPES.vm)!.id;
    const identity = az.state.ofType(TYPES.identity).find((r) => r.name === `crawl4ai-mcp-${NAME}-wake`)!;
    principal = identity.properties.principalId;
    // the Worker serves its issuer publicly (Entra fetches it with no key)
    const issuer = await fetch(`${cf.workerUrl(SCRIPT)}/wake-issuer/.well-known/openid-configuration`);
    expect(issuer.status).toBe(200);
    const doc = (await issuer.json()) as { issuer: string; jwks_uri: string };
    expect(doc.issuer).toBe(`${cf.workerUrl(SCRIPT)}/wake-issuer`);
    const jwks = (await (await fetch(doc.jwks_uri)).json()) as { keys: Array<Record<string, string>> };
    expect(Object.keys(jwks.keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);

    client = await connectedClient(cli, NAME, 'azure-wake-test');
    expect((await scrape()).isError).toBe(false);
  }, 400_000);

  it('after `crawl4ai-mcp stop`, concurrent tool calls start the VM once and say when to call again; the call after it booted succeeds', async () => {
    await stopped();
    const before = starts().length;
    const calls = await Promise.all([scrape(), scrape(), scrape()]);
    for (const c of calls) {
      expect(c.isError).toBe(true);
      expect(c.text).toMatch(/your crawler is starting, ready in about \d+ s — call again/);
    }
    expect(starts().length).toBe(before + 1);
    // with the wake identity's token, not the installer's
    expect(starts().at(-1)).toMatchObject({ status: 202, principal });
    await until(() => sim.current() !== null);
    const next = await scrape();
    expect(next.isError, next.text).toBe(false);
    expect(next.text).toContain('docs');
    expect(starts().length).toBe(before + 1);
  }, 200_000);

  it('`stop --hold` keeps the VM deallocated: the hold tag makes a tool call say so and start nothing; `start` removes it', async () => {
    const tags = () => az.state.get(vmId)!.tags ?? {};
    const stop = await cli(['stop', '--hold']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(power()).toBe('deallocated');
    expect(tags()['crawl4ai-mcp:hold']).toBeDefined();
    expect(tags()['crawl4ai-mcp:deployment']).toBe(NAME); // the other tags stay
    await until(() => sim.current() === null);
    expect(JSON.parse((await cli(['status', '--json'])).stdout).vm).toMatchObject({ state: 'stopped', held: true });
    const before = starts().length;
    const r = await scrape();
    expect(r.isError).toBe(true);
    expect(r.text).toContain('your crawler is stopped and on hold');
    expect(starts().length).toBe(before);
    const start = await cli(['start']);
    expect(start.code, start.stderr).toBe(0);
    expect(tags()['crawl4ai-mcp:hold']).toBeUndefined();
    await until(() => sim.current() !== null);
    expect((await scrape()).isError).toBe(false);
  }, 300_000);

  it('a Worker whose signing key is not its issuer\'s gets an AADSTS error from Entra, starts nothing, and tells the caller to run `crawl4ai-mcp start`', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const put = await fetch(`${cf.apiBaseUrl}/accounts/${CF_ACCOUNT}/workers/scripts/${SCRIPT}/secrets`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${CF_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'WAKE_AZURE_SIGNING_KEY', text: stranger, type: 'secret_text' }),
    });
    expect(put.status).toBe(200);
    await stopped();
    const before = starts().length;
    const call = await scrape();
    expect(call.isError).toBe(true);
    expect(call.text).toContain("Azure refused this Worker's wake credential (AADSTS50013)");
    expect(call.text).toContain('crawl4ai-mcp start');
    expect(starts().length).toBe(before);
    expect(power()).toBe('deallocated');
    // the owner's way still works
    const start = await cli(['start']);
    expect(start.code, start.stderr).toBe(0);
    expect((await scrape()).isError).toBe(false);
  }, 300_000);

  it('destroy with the state file lost removes the identity and its role assignment with everything else', async () => {
    await client.close();
    fs.rmSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', `${NAME}.json`));
    const destroy = await cli(['destroy', '--yes', '--provider', 'azure', '--region', 'eastus']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(destroy.stdout + destroy.stderr).toContain('deleting the wake credential (managed identity crawl4ai-mcp-azwj-wake in crawl4ai-mcp_wake');
    expect(az.resourcesOf(NAME)).toEqual([]);
    expect(az.state.ofType(TYPES.identity)).toEqual([]);
    expect([...az.state.roleAssignments.values()].filter((a) => a.principalId === principal || a.scope.includes(`crawl4ai-mcp-${NAME}/`))).toEqual([]);
    expect(cf.scripts()).not.toContain(SCRIPT);
  }, 200_000);
});

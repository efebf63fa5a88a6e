import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { lines, runCli } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';

const CF_TOKEN = 'cf-token-' + 'r'.repeat(32);
const CF_ACCOUNT = 'acc0000000000000000000000000000d';

/** Issue 16: destroy tries every resource, retries Cloudflare's 429/5xx (wrangler's calls too) and says what is left. */
describe('destroy when Cloudflare misbehaves', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 150, accessKeyId: ACCESS_KEY });
    cf = await startCloudflareEmulator({ accountId: CF_ACCOUNT, apiToken: CF_TOKEN });
    sim = startVmSimulator(ec2Instances(ec2, 'rel'), cf);
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-rel-');
  }, 120_000);

  afterAll(async () => {
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  const cli = (args: string[]) => runCli(['--name', 'rel', ...args], { env, timeoutMs: 240_000 });
  const stateFile = () => path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'rel.json');
  const init = () => cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small']);

  it('a Cloudflare 5xx that outlasts the retries inside `wrangler delete` leaves only the Worker; destroy says so, exits 1, and a rerun finishes', async () => {
    const created = await init();
    expect(created.code, created.stderr).toBe(0);
    // wrangler delete answers 500 / code 10013 each of the 4 times destroy runs it
    for (let i = 0; i < 4; i++) cf.failNext('DELETE', /\/workers\/services\/crawl4ai-mcp-rel$/, 500, 10002);
    const first = await cli(['destroy', '--yes']);
    expect(first.code).toBe(1);
    const err = lines(first.stderr).filter((l) => !l.startsWith('›'));
    expect(err[0]).toMatch(/^error: destroy did not finish: removed aws resources, tunnel [0-9a-f-]+, VPC service [0-9a-f-]+; left behind: worker crawl4ai-mcp-rel \(wrangler delete failed: .*Internal server error/);
    expect(err[1]).toMatch(/^hint: .*run `crawl4ai-mcp destroy --name rel` again/);
    expect(err).toHaveLength(2);
    // everything but the Worker is gone; the state file still knows about the Worker
    expect(ec2.resourcesOf('rel')).toEqual([]);
    expect(cf.tunnels().filter((t) => !t.deleted)).toEqual([]);
    expect(cf.vpcServices()).toEqual([]);
    expect(cf.scripts()).toEqual(['crawl4ai-mcp-rel']);
    expect(JSON.parse(fs.readFileSync(stateFile(), 'utf8')).status).toBe('destroying');
    // the whole wrangler command was run again, bounded
    const deletes = cf.requests.filter((r) => r.method === 'DELETE' && r.path.endsWith('/workers/services/crawl4ai-mcp-rel'));
    expect(deletes.map((r) => r.status)).toEqual([500, 500, 500, 500]);

    const second = await cli(['destroy', '--yes']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('worker crawl4ai-mcp-rel');
    expect(cf.scripts()).toEqual([]);
    expect(fs.existsSync(stateFile())).toBe(false);
  }, 400_000);

  it("init and destroy ride out 429s and 5xx on wrangler's deploy, secret and delete calls and on the tunnel API", async () => {
    cf.failNext('PATCH', /\/workers\/scripts\/crawl4ai-mcp-rel\/secrets-bulk$/, 503, 10002);
    cf.failNext('PUT', /\/workers\/scripts\/crawl4ai-mcp-rel$/, 429, 971, { retryAfter: 0 });
    const created = await init();
    expect(created.code, created.stderr).toBe(0);
    expect(cf.secretsOf('crawl4ai-mcp-rel').sort()).toEqual(['ADMIN_KEY_SHA256', 'BOOTSTRAP_KEY_SHA256', 'CRAWL4AI_API_TOKEN', 'WAKE_AWS_ACCESS_KEY_ID', 'WAKE_AWS_SECRET_ACCESS_KEY']);

    cf.failNext('DELETE', /\/workers\/services\/crawl4ai-mcp-rel$/, 429, 971, { retryAfter: 0 });
    cf.failNext('DELETE', /\/workers\/services\/crawl4ai-mcp-rel$/, 502, 10002);
    cf.failNext('DELETE', /\/cfd_tunnel\/[^/]+$/, 503, 10002);
    const destroyed = await cli(['destroy', '--yes']);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(cf.scripts()).toEqual([]);
    expect(cf.tunnels().filter((t) => !t.deleted)).toEqual([]);
    expect(cf.vpcServices()).toEqual([]);
    expect(ec2.resourcesOf('rel')).toEqual([]);
  }, 400_000);
});

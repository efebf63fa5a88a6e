import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
// the built modules: the Worker bundle wrangler deploys is resolved next to them, in dist/
import { WorkerDeployer } from '../dist/cloudflare/worker-deployer.js';
import { CliError } from '../dist/ground/errors.js';

const TOKEN = 'cf-token-' + 'w'.repeat(32);

/** wrangler's failures in plain words: the real bundled wrangler against the emulator, as `init` runs it. */
describe('wrangler failures a new user meets, in plain words', () => {
  let cf: CloudflareEmulator;
  let bare: CloudflareEmulator;
  beforeAll(async () => {
    cf = await startCloudflareEmulator({ apiToken: TOKEN });
    bare = await startCloudflareEmulator({ apiToken: TOKEN, subdomain: null });
  }, 60_000);
  afterAll(async () => {
    await cf?.close();
    await bare?.close();
  });

  const deployTo = async (emu: CloudflareEmulator, accountId = emu.accountId): Promise<CliError> => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, CLOUDFLARE_API_BASE_URL: emu.apiBaseUrl, CRAWL4AI_MCP_POLL_MS: '50' };
    const deployer = new WorkerDeployer({ accountId, apiToken: TOKEN }, env);
    try {
      await deployer.deploy({ deployment: 'words', originUrl: 'https://vm.example.com', secrets: { CRAWL4AI_API_TOKEN: 'x'.repeat(40) } });
    } catch (e) {
      if (e instanceof CliError) return e;
      throw e;
    }
    throw new Error('deploy succeeded');
  };

  it('a new account without a workers.dev subdomain: says so and how to register one', async () => {
    const e = await deployTo(bare);
    expect(e.message).toBe('this Cloudflare account has no workers.dev subdomain yet, so the Worker cannot get a URL');
    expect(e.hint).toContain(`https://dash.cloudflare.com/${bare.accountId}/workers/onboarding`);
    expect(e.exitCode).toBe(1);
  }, 120_000);

  it('a token without Workers Scripts edit: names the permission', async () => {
    cf.failNext('PUT', /\/workers\/scripts\/crawl4ai-mcp-words$/, 403, 10000, { message: 'Authentication error' });
    const e = await deployTo(cf);
    expect(e.message).toMatch(/^Cloudflare refused the API token during `wrangler deploy`: the token needs Account › Workers Scripts › Edit/);
    expect(e.hint).toContain('add Account › Workers Scripts › Edit to the token');
    expect(e.exitCode).toBe(3);
  }, 120_000);

  it('an account id that is not one: names CLOUDFLARE_ACCOUNT_ID (refused by wrangler, or unroutable at the API)', async () => {
    for (const wrong of ['me@example.com', 'my-company']) {
      const e = await deployTo(cf, wrong);
      expect(e.message).toMatch(new RegExp(`^CLOUDFLARE_ACCOUNT_ID "${wrong}" is not a Cloudflare account id`));
      expect(e.hint).toContain('32-character Account ID');
      expect(e.exitCode).toBe(3);
    }
  }, 120_000);

  it('the plan allows no more Workers: says which limit, exit 4', async () => {
    cf.failNext('PUT', /\/workers\/scripts\/crawl4ai-mcp-words$/, 400, 10037, { message: 'You have exceeded the limit of 100 Workers on your account.' });
    const e = await deployTo(cf);
    expect(e.message).toBe('this Cloudflare account already has as many Workers as its plan allows (code 10037)');
    expect(e.hint).toContain('Workers Paid');
    expect(e.exitCode).toBe(4);
  }, 120_000);
});

/**
 * OAuth on a deployed Worker: `init` on the EC2 and Cloudflare emulators creates the OAUTH_KV
 * namespace (the emulator refuses an upload bound to a namespace that does not exist, and checks
 * the token's Workers KV permission), `connect --client claude-ai` mints a pairing code through
 * the admin API, the owner approves a client with it, the client shows in `keys list`, `keys
 * revoke` cuts it off, and `destroy` deletes the namespace, also when the state file is lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { ALL_PERMISSION_GROUPS } from './emulators/cloudflare/token-permissions.ts';
import { runCli } from './helpers/cli.js';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY as ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';
import { CLAUDE_REDIRECT } from './helpers/oauth-client.ts';

const CF_TOKEN = 'cf-token-' + 'o'.repeat(32);
const CF_TOKEN_NO_KV = 'cf-token-nokv-' + 'o'.repeat(27);
const CF_ACCOUNT = 'acc000000000000000000000000000ca';

describe('OAuth on a deployment made by init', () => {
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let sim: VmSimulator;
  let env: NodeJS.ProcessEnv;
  let workerUrl: string;
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(['--name', 'oauthj', ...args], { env: { ...env, ...extra }, timeoutMs: 240_000 });

  beforeAll(async () => {
    ec2 = await startEc2Emulator({ transitionMs: 200, accessKeyId: ACCESS_KEY });
    cf = await startCloudflareEmulator({
      accountId: CF_ACCOUNT,
      apiToken: CF_TOKEN,
      extraTokens: { [CF_TOKEN_NO_KV]: ALL_PERMISSION_GROUPS.filter((g) => !g.startsWith('Workers KV')) },
    });
    sim = startVmSimulator(ec2Instances(ec2, 'oauthj'), cf);
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-oauthj-');
  }, 60_000);

  afterAll(async () => {
    await cli(['destroy', '--yes']).catch(() => undefined);
    await sim?.stop();
    await cf?.close();
    await ec2?.close();
  });

  it('a token without Workers KV Storage is refused with one line naming the permission', async () => {
    const noKv = journeyEnv(ec2, cf, CF_TOKEN_NO_KV, 'c4m-nokv-');
    const r = await runCli(['--name', 'nokv', 'init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small'], { env: noKv, timeoutMs: 240_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Workers KV Storage/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    expect(cf.kvNamespaces()).toEqual([]);
    await runCli(['--name', 'nokv', 'destroy', '--yes'], { env: { ...noKv, CLOUDFLARE_API_TOKEN: CF_TOKEN }, timeoutMs: 240_000 }).catch(() => undefined);
  }, 300_000);

  it('init creates the OAUTH_KV namespace and binds the Worker to it', async () => {
    const init = await cli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small']);
    expect(init.code, init.stderr).toBe(0);
    expect(cf.kvNamespaces().filter((n) => n.title === 'crawl4ai-mcp-oauthj-oauth')).toHaveLength(1);
    workerUrl = JSON.parse((await cli(['connect', '--client', 'cursor'])).stdout).mcpServers['crawl4ai-oauthj'].url.replace(/\/mcp$/, '');
    const meta = await fetch(`${workerUrl}/.well-known/oauth-authorization-server`);
    expect(meta.status).toBe(200);
    expect(((await meta.json()) as { registration_endpoint: string }).registration_endpoint).toMatch(/\/oauth\/register$/);
  }, 300_000);

  it('connect --client claude-ai prints the three steps with a one-time code that approves a client; keys list shows it; keys revoke cuts it off', async () => {
    const human = await cli(['connect', '--client', 'claude-ai']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/1\. .*Add custom connector/);
    expect(human.stdout).toContain(`${workerUrl}/mcp`);
    expect(human.stdout).not.toMatch(/c4m_[A-Za-z0-9_-]{43}/);
    const doc = JSON.parse((await cli(['connect', '--client', 'claude-ai', '--json'])).stdout) as { pairing_code: string; url: string };
    expect(doc.pairing_code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);

    // the Worker sees its workers.dev URL (the emulator dispatches as the edge does): resource and issuer are that
    const prm = (await (await fetch(`${workerUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string; authorization_servers: string[] };
    expect(prm.resource).toBe('https://crawl4ai-mcp-oauthj.test-user.workers.dev/mcp');
    const origin = prm.authorization_servers[0]!;
    const reg = await fetch(`${workerUrl}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'Claude', redirect_uris: [CLAUDE_REDIRECT], token_endpoint_auth_method: 'none' }) });
    expect(reg.status).toBe(201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({ response_type: 'code', client_id, redirect_uri: CLAUDE_REDIRECT, state: 's', scope: 'mcp', resource: prm.resource, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' });
    const page = await fetch(`${workerUrl}/authorize?${q}`, { redirect: 'manual' });
    expect(page.status, String(page.headers.get('location'))).toBe(200);
    const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const html = await page.text();
    const handle = /name="handle" value="([^"]+)"/.exec(html)![1]!;
    // the tool boxes as a browser posts them: every ticked one (all, by default)
    const tools = [...html.matchAll(/name="tool" value="([^"]+)" checked/g)].map((m) => ['tool', m[1]!]);
    const approved = await fetch(`${workerUrl}/authorize`, { method: 'POST', redirect: 'manual', headers: { cookie, origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams([['handle', handle], ['code', doc.pairing_code], ['decision', 'approve'], ...tools]) });
    expect(approved.status).toBe(302);
    const code = new URL(approved.headers.get('location')!).searchParams.get('code')!;
    const tok = await fetch(`${workerUrl}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id, redirect_uri: CLAUDE_REDIRECT }) });
    expect(tok.status).toBe(200);
    const { access_token } = (await tok.json()) as { access_token: string };
    const call = () =>
      fetch(`${workerUrl}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'health', arguments: {} } }),
      });
    expect((await call()).status).toBe(200);

    const list = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as { keys: Array<{ name: string; source: string }> };
    const oauthKey = list.keys.find((k) => k.source === 'oauth')!;
    expect(oauthKey.name).toMatch(/^oauth-Claude-/);
    const revoked = await cli(['keys', 'revoke', oauthKey.name]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await call()).status).toBe(401);
  }, 300_000);

  it('destroy deletes the namespace, and finds it by name when the state file is lost', async () => {
    fs.rmSync(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments', 'oauthj.json'));
    const d = await cli(['destroy', '--yes', '--provider', 'aws', '--region', 'us-east-1']);
    expect(d.code, d.stderr + d.stdout).toBe(0);
    expect(cf.kvNamespaces().filter((n) => n.title === 'crawl4ai-mcp-oauthj-oauth')).toEqual([]);
  }, 300_000);
});

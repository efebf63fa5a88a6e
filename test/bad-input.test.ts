/**
 * Bad input, table-driven: flags, environment variables, credentials of the wrong shape, unknown
 * regions and sizes (through the built CLI), and MCP arguments, malformed JSON-RPC and oversized
 * bodies (through the Worker in workerd). Every case ends in one clear line (or a proper JSON-RPC /
 * isError answer), the right exit code, no stack trace, and nothing created.
 *
 * The CLI cases run with every cloud endpoint pointing at a closed loopback port and no cloud
 * credentials unless the case gives some: a case that got as far as a cloud call, or as asking
 * for a credential, would fail with a different message.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, lines, runCli, tempHome } from './helpers/cli.js';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { startWorker, type RunningWorker } from './helpers/mcp-worker.ts';
import { connectV2, textOf, type McpTestClient } from './helpers/mcp-clients.ts';
import { StateStore } from '../src/state/store.js';
import { newDeploymentState } from '../src/state/schema.js';

const DEAD = 'http://127.0.0.1:9'; // nothing listens: a call that gets there fails with ECONNREFUSED
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const CF_ACCOUNT = 'acc0000000000000000000000000000a';
const CF_TOKEN = 'cf-token-' + 'x'.repeat(32);

interface CliCase {
  name: string;
  args: string[];
  env?: Record<string, string | undefined>;
  code: number;
  /** the first stderr line */
  error: RegExp;
  /** the hint line, when one is expected */
  hint?: RegExp;
  /** seed a ready deployment "default" before running */
  seeded?: boolean;
}

const INIT = ['init', '--yes', '--provider', 'aws'];
const R = ['--region', 'us-east-1'];
const WITH_CREDS = { AWS_ACCESS_KEY_ID: AWS_KEY, AWS_SECRET_ACCESS_KEY: AWS_SECRET, CLOUDFLARE_ACCOUNT_ID: CF_ACCOUNT, CLOUDFLARE_API_TOKEN: CF_TOKEN };

const CLI_CASES: CliCase[] = [
  // commands and global flags
  { name: 'unknown command', args: ['frobnicate'], code: 2, error: /unknown command 'frobnicate'/ },
  { name: 'unknown option', args: ['init', '--frobnicate'], code: 2, error: /unknown option '--frobnicate'/ },
  { name: 'upper-case --name', args: ['--name', 'Prod', 'doctor'], code: 2, error: /invalid deployment name "Prod"/, hint: /a-z, 0-9/ },
  { name: '33-character --name', args: ['--name', 'n'.repeat(33), 'status'], code: 2, error: /invalid deployment name/ },
  { name: '--name with a slash', args: ['--name', '../etc', 'status'], code: 2, error: /invalid deployment name/ },
  { name: 'CRAWL4AI_MCP_NAME with a space', args: ['status'], env: { CRAWL4AI_MCP_NAME: 'my crawler' }, code: 2, error: /invalid deployment name "my crawler"/ },
  // init / plan answers, checked before any credential is needed
  { name: 'unknown provider', args: ['init', '--yes', '--provider', 'mars'], code: 2, error: /option '--provider <cloud>' argument 'mars' is invalid/ },
  { name: 'provider in upper case', args: ['init', '--yes', '--provider', 'AWS'], code: 2, error: /argument 'AWS' is invalid/ },
  { name: 'unknown region, before credentials', args: [...INIT, '--region', 'mars-1'], code: 2, error: /unknown aws region "mars-1"/, hint: /us-east-1/ },
  { name: 'unknown region from the environment', args: INIT, env: { CRAWL4AI_MCP_REGION: 'moon-2' }, code: 2, error: /unknown aws region "moon-2"/ },
  { name: 'unknown size', args: [...INIT, ...R, '--size', 'huge'], code: 2, error: /option '--size <size>' argument 'huge' is invalid/ },
  { name: 'unknown size from the environment', args: [...INIT, ...R], env: { CRAWL4AI_MCP_SIZE: 'xl' }, code: 2, error: /'xl' from env 'CRAWL4AI_MCP_SIZE' is invalid/ },
  { name: 'unknown network mode', args: [...INIT, ...R, '--network', 'pigeon'], code: 2, error: /argument 'pigeon' is invalid/ },
  { name: 'hostname with a space, before credentials', args: [...INIT, ...R, '--network', 'public', '--hostname', 'not a host'], code: 2, error: /invalid hostname "not a host"/ },
  { name: 'hostname that is an IP address', args: [...INIT, ...R, '--network', 'public', '--hostname', '203.0.113.7'], code: 2, error: /invalid hostname/, hint: /bare IP/ },
  { name: 'hostname with one label', args: [...INIT, ...R, '--network', 'public', '--hostname', 'localhost'], code: 2, error: /invalid hostname "localhost"/ },
  { name: 'upper-case hostname', args: [...INIT, ...R, '--network', 'public', '--hostname', 'Crawl.Example.com'], code: 2, error: /invalid hostname/ },
  { name: 'ACME email without @, before credentials', args: [...INIT, ...R, '--network', 'public', '--acme-email', 'notanemail'], code: 2, error: /invalid ACME email "notanemail"/ },
  { name: '--hostname in tunnel mode', args: [...INIT, ...R, '--network', 'tunnel', '--hostname', 'crawl.example.com'], code: 2, error: /--hostname applies to --network public only/ },
  { name: '--acme-email in tunnel mode', args: [...INIT, ...R, '--network', 'tunnel', '--acme-email', 'me@example.com'], code: 2, error: /--acme-email applies to --network public only/ },
  { name: 'unknown wildcard domain', args: [...INIT, ...R, '--wildcard-domain', 'example.com'], code: 2, error: /argument 'example.com' is invalid/ },
  { name: 'unknown credential source', args: [...INIT, ...R, '--credentials', 'magic'], code: 2, error: /argument 'magic' is invalid/ },
  { name: 'plan with an unknown region', args: ['plan', '--yes', '--provider', 'aws', '--region', 'eu-mars-1'], code: 2, error: /unknown aws region/ },
  { name: 'plan without a provider and no terminal', args: ['plan'], code: 2, error: /the cloud provider is not set and there is no terminal to ask/, hint: /--provider/ },
  { name: 'init --yes without a provider', args: ['init', '--yes'], code: 2, error: /--yes was given but the cloud provider is not set/ },
  // environment variables
  { name: 'non-numeric health timeout, before credentials', args: [...INIT, ...R], env: { CRAWL4AI_MCP_HEALTH_TIMEOUT_MS: 'soon' }, code: 2, error: /CRAWL4AI_MCP_HEALTH_TIMEOUT_MS=soon is not a duration/ },
  { name: 'negative health interval', args: [...INIT, ...R], env: { CRAWL4AI_MCP_HEALTH_INTERVAL_MS: '-5' }, code: 2, error: /CRAWL4AI_MCP_HEALTH_INTERVAL_MS=-5 is not a duration/ },
  { name: 'zero poll interval', args: [...INIT, ...R], env: { CRAWL4AI_MCP_POLL_MS: '0' }, code: 2, error: /CRAWL4AI_MCP_POLL_MS=0 is not a duration/ },
  { name: 'fractional health timeout', args: ['plan', '--yes', '--provider', 'aws', ...R], env: { CRAWL4AI_MCP_HEALTH_TIMEOUT_MS: '1.5' }, code: 2, error: /is not a duration/ },
  { name: 'unknown secret backend', args: [...INIT, ...R], env: { CRAWL4AI_MCP_SECRET_BACKEND: 'vault' }, code: 2, error: /CRAWL4AI_MCP_SECRET_BACKEND=vault is not a secret backend/ },
  { name: 'unknown provider from the environment', args: ['init', '--yes'], env: { CRAWL4AI_MCP_PROVIDER: 'oracle' }, code: 2, error: /'oracle' from env 'CRAWL4AI_MCP_PROVIDER' is invalid/ },
  { name: 'unknown network from the environment', args: [...INIT, ...R], env: { CRAWL4AI_MCP_NETWORK: 'vpn' }, code: 2, error: /'vpn' from env 'CRAWL4AI_MCP_NETWORK' is invalid/ },
  // credentials of the wrong shape (refused before they are stored or sent)
  { name: 'AWS key id with a space', args: [...INIT, ...R], env: { ...WITH_CREDS, AWS_ACCESS_KEY_ID: 'AKIA IOSFODNN7EXAMPLE' }, code: 3, error: /AWS_ACCESS_KEY_ID does not look like an AWS access key id .*: it contains white space/ },
  { name: 'AWS key id in lower case', args: [...INIT, ...R], env: { ...WITH_CREDS, AWS_ACCESS_KEY_ID: 'akiaiosfodnn7example' }, code: 3, error: /AWS_ACCESS_KEY_ID does not look like/ },
  { name: 'AWS secret too short', args: [...INIT, ...R], env: { ...WITH_CREDS, AWS_SECRET_ACCESS_KEY: 'abc' }, code: 3, error: /AWS_SECRET_ACCESS_KEY does not look like .*too short/ },
  { name: 'AWS secret and key id swapped', args: [...INIT, ...R], env: { ...WITH_CREDS, AWS_ACCESS_KEY_ID: AWS_SECRET, AWS_SECRET_ACCESS_KEY: AWS_KEY }, code: 3, error: /AWS_ACCESS_KEY_ID does not look like/ },
  { name: 'AWS secret with a newline', args: [...INIT, ...R], env: { ...WITH_CREDS, AWS_SECRET_ACCESS_KEY: `${AWS_SECRET}\nx` }, code: 3, error: /AWS_SECRET_ACCESS_KEY does not look like/ },
  { name: 'Cloudflare account id that is a name', args: [...INIT, ...R], env: { ...WITH_CREDS, CLOUDFLARE_ACCOUNT_ID: 'acme-corp' }, code: 3, error: /CLOUDFLARE_ACCOUNT_ID does not look like a Cloudflare account id/ },
  { name: 'Cloudflare token with quotes', args: [...INIT, ...R], env: { ...WITH_CREDS, CLOUDFLARE_API_TOKEN: `"${CF_TOKEN}"` }, code: 3, error: /CLOUDFLARE_API_TOKEN does not look like a Cloudflare API token/ },
  { name: 'Cloudflare token too short', args: [...INIT, ...R], env: { ...WITH_CREDS, CLOUDFLARE_API_TOKEN: 'short' }, code: 3, error: /CLOUDFLARE_API_TOKEN does not look like/ },
  { name: 'GCP key given as a path, not the JSON', args: ['init', '--yes', '--provider', 'gcp', '--region', 'us-central1'], env: { CRAWL4AI_MCP_GCP_KEY: '/home/me/key.json', CLOUDFLARE_ACCOUNT_ID: CF_ACCOUNT, CLOUDFLARE_API_TOKEN: CF_TOKEN }, code: 3, error: /CRAWL4AI_MCP_GCP_KEY does not look like a GCP service-account key/ },
  { name: 'Azure tenant id that is a domain', args: ['init', '--yes', '--provider', 'azure', '--region', 'eastus'], env: { AZURE_TENANT_ID: 'contoso.onmicrosoft.com', AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555', AZURE_CLIENT_SECRET: 'abcDEF123~._-abcDEF123', AZURE_SUBSCRIPTION_ID: '00000000-1111-2222-3333-444444444444', CLOUDFLARE_ACCOUNT_ID: CF_ACCOUNT, CLOUDFLARE_API_TOKEN: CF_TOKEN }, code: 3, error: /AZURE_TENANT_ID does not look like an Azure tenant id/ },
  { name: 'unknown GCP region', args: ['init', '--yes', '--provider', 'gcp', '--region', 'us-east-1'], code: 2, error: /unknown gcp region "us-east-1"/ },
  { name: 'no AWS credentials and no terminal', args: [...INIT, ...R], code: 2, error: /the AWS access key ID is not in the secret store and there is no terminal to ask for it/, hint: /AWS_ACCESS_KEY_ID/ },
  // day-2 commands
  { name: 'status of a deployment that does not exist', args: ['status'], code: 5, error: /no deployment named "default"/, hint: /crawl4ai-mcp init/ },
  { name: 'stop of a deployment that does not exist', args: ['--name', 'ghost', 'stop'], code: 5, error: /no deployment named "ghost"/ },
  { name: 'connect to a deployment that does not exist', args: ['connect'], code: 5, error: /no deployment named "default"/ },
  { name: 'connect for an unknown client', args: ['connect', '--client', 'emacs'], code: 2, error: /argument 'emacs' is invalid/ },
  { name: 'scale without --size', args: ['scale'], code: 2, error: /scale needs --size/ },
  { name: 'scale to an unknown size', args: ['scale', '--size', 'gigantic'], code: 2, error: /unknown size "gigantic"/ },
  { name: 'idle stop too short, before credentials', args: [...INIT, ...R, '--idle-stop', '5m'], code: 2, error: /invalid --idle-stop "5m"/, hint: /between 10m and 168h/ },
  { name: 'idle stop that is not a duration', args: ['scale', '--idle-stop', 'soon'], code: 2, error: /invalid --idle-stop "soon"/ },
  { name: 'idle stop on Cloudflare Containers', args: ['plan', '--yes', '--provider', 'cloudflare', '--idle-stop', '30m'], code: 2, error: /--idle-stop does not apply to --provider cloudflare/, hint: /sleeps after/ },
  { name: 'unknown CPU credit mode', args: ['scale', '--cpu-credits', 'turbo'], code: 2, error: /argument 'turbo' is invalid/ },
  { name: 'destroy without state, provider or region', args: ['destroy', '--yes'], code: 2, error: /no state file for deployment "default"/, hint: /--provider and --region/ },
  { name: 'destroy without state, with an unknown region', args: ['destroy', '--yes', '--provider', 'aws', '--region', 'atlantis-1'], code: 2, error: /unknown aws region "atlantis-1"/ },
  { name: 'destroy with no terminal and no --yes says what is missing', args: ['destroy'], seeded: true, code: 2, error: /the confirmation to delete is not set and there is no terminal to ask/, hint: /--yes/ },
  // serve and dev
  { name: 'serve without --stdio', args: ['serve', '--origin', 'http://localhost:11235'], code: 2, error: /serve needs --stdio/ },
  { name: 'serve without an origin', args: ['serve', '--stdio'], code: 2, error: /no Crawl4AI origin given/ },
  { name: 'serve with an origin that is not a URL', args: ['serve', '--stdio', '--origin', 'localhost 11235'], code: 2, error: /--origin is not a URL/ },
  { name: 'serve with an ftp origin', args: ['serve', '--stdio', '--origin', 'ftp://localhost/'], code: 2, error: /--origin must be an http/ },
  { name: 'dev with a port out of range', args: ['dev', '--origin', 'http://127.0.0.1:11235', '--port', '99999'], code: 2, error: /--port must be a port number, got 99999/ },
  { name: 'dev with a non-numeric port', args: ['dev', '--origin', 'http://127.0.0.1:11235', '--port', 'http'], code: 2, error: /--port must be a port number/ },
  { name: 'dev with a malformed preset key', args: ['dev', '--origin', 'http://127.0.0.1:11235'], env: { CRAWL4AI_MCP_DEV_KEY: 'c4m_short' }, code: 2, error: /CRAWL4AI_MCP_DEV_KEY is not a crawl4ai-mcp API key/ },
];

const PASS = 'bad input passphrase';

function baseEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return cliEnv(home, {
    CRAWL4AI_MCP_SECRET_BACKEND: 'file',
    CRAWL4AI_MCP_PASSPHRASE: PASS,
    AWS_ENDPOINT_URL_EC2: DEAD,
    AWS_ENDPOINT_URL_IAM: DEAD,
    AWS_ENDPOINT_URL_STS: DEAD,
    CLOUDFLARE_API_BASE_URL: `${DEAD}/client/v4`,
    CRAWL4AI_MCP_POLL_MS: '50',
    ...extra,
  });
}

async function seed(home: string): Promise<void> {
  const env = baseEnv(home);
  const state = newDeploymentState('default');
  state.status = 'ready';
  state.provider = 'aws';
  state.region = 'us-east-1';
  state.worker = { scriptName: 'crawl4ai-mcp-default', url: 'https://crawl4ai-mcp-default.me.workers.dev' };
  await new StateStore(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments')).write(state);
}

/** Files the run left in the config home (a state file, a secret store...), relative to it. */
function filesIn(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

describe(`bad input on the command line (${CLI_CASES.length} cases)`, () => {
  it.concurrent.each(CLI_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const home = tempHome('c4m-bad-');
    if (c.seeded) await seed(home);
    const env = baseEnv(home, c.env);
    const before = filesIn(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments'));
    const r = await runCli(c.args, { env, timeoutMs: 30_000 });
    const err = lines(r.stderr);
    expect(r.code, r.stderr).toBe(c.code);
    expect(err[0], r.stderr).toMatch(/^error: /);
    expect(err[0], r.stderr).toMatch(c.error);
    if (c.hint) expect(err[1], r.stderr).toMatch(c.hint);
    expect(err.length, r.stderr).toBeLessThanOrEqual(2);
    expect(r.stderr, 'no stack trace').not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    // nothing created: no deployment state, no lock left behind
    expect(filesIn(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments'))).toEqual(before);
  });
});

interface McpCase {
  name: string;
  tool: string;
  args: Record<string, unknown>;
  /** what the answer says */
  says: RegExp;
}

const MCP_CASES: McpCase[] = [
  { name: 'scrape a URL that is not a URL', tool: 'scrape', args: { url: 'not a url' }, says: /url|URL/ },
  { name: 'scrape a private address', tool: 'scrape', args: { url: 'http://10.0.0.1/' }, says: /blocked URL/ },
  { name: 'scrape the metadata service', tool: 'scrape', args: { url: 'http://169.254.169.254/latest/meta-data/' }, says: /blocked URL/ },
  { name: 'scrape a file: URL', tool: 'scrape', args: { url: 'file:///etc/passwd' }, says: /blocked URL|http/ },
  { name: 'scrape with credentials in the URL', tool: 'scrape', args: { url: 'https://user:pw@example.com/' }, says: /blocked URL/ },
  { name: 'scrape without a url', tool: 'scrape', args: {}, says: /url/i },
  { name: 'crawl_site with 10,000 pages', tool: 'crawl_site', args: { url: 'https://example.com/', max_pages: 10_000 }, says: /max_pages|50/ },
  { name: 'crawl_site with depth -1', tool: 'crawl_site', args: { url: 'https://example.com/', max_depth: -1 }, says: /max_depth/ },
  { name: 'map with a negative limit', tool: 'map', args: { url: 'https://example.com/', limit: -1 }, says: /limit/ },
  { name: 'map with a string limit', tool: 'map', args: { url: 'https://example.com/', limit: 'lots' }, says: /limit/ },
  { name: 'screenshot of a javascript: URL', tool: 'screenshot', args: { url: 'javascript:alert(1)' }, says: /blocked URL|http/ },
  { name: 'pdf of a loopback URL', tool: 'pdf', args: { url: 'http://127.0.0.1:11235/' }, says: /blocked URL/ },
  { name: 'job status with a made-up id', tool: 'get_job_status', args: { task_id: '../../etc' }, says: /task_id/ },
  { name: 'batch_scrape with no URLs', tool: 'batch_scrape', args: { urls: [] }, says: /urls/ },
  { name: 'a tool that does not exist', tool: 'rm_rf', args: {}, says: /rm_rf|not found|unknown/i },
];

describe(`bad input to the MCP endpoint (${MCP_CASES.length} tool calls + raw JSON-RPC)`, () => {
  let emu: Crawl4aiEmulator;
  let worker: RunningWorker;
  let client: McpTestClient;
  beforeAll(async () => {
    emu = await startCrawl4aiEmulator();
    worker = await startWorker({ originUrl: emu.url, token: emu.token });
    client = await connectV2(worker.mcpUrl, worker.apiKey);
  });
  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await worker?.close();
    await emu?.close();
  });

  it.each(MCP_CASES.map((c) => [c.name, c] as const))('%s: an error answer naming the problem, nothing sent to Crawl4AI', async (_n, c) => {
    const sent = emu.requests.length;
    let text: string;
    try {
      const r = await client.callTool(c.tool, c.args);
      expect(r.isError, JSON.stringify(r)).toBe(true);
      text = textOf(r);
    } catch (e) {
      // invalid arguments may come back as a JSON-RPC error (-32602) instead of an isError result
      text = (e as Error).message;
      expect(text).toMatch(/-32602|-32601|Invalid|invalid|not found/);
    }
    expect(text).toMatch(c.says);
    expect(text).not.toMatch(/\n\s+at /);
    expect(emu.requests.length, 'nothing reached Crawl4AI').toBe(sent);
  });

  const post = (body: string | Uint8Array, headers: Record<string, string> = {}) =>
    fetch(worker.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${worker.apiKey}`, ...headers },
      body,
    });

  /**
   * A large POST that reads the answer even when the server refuses early. The server may judge
   * the declared Content-Length, answer 413 and close while the body is still being sent; on a busy
   * machine the close can then reset the connection before the answer is read. So the body goes
   * out in two steps: the first 64 KB, then (if no answer came within a second) the rest.
   */
  const postLarge = (body: string): Promise<Response> =>
    new Promise((resolve, reject) => {
      const u = new URL(worker.mcpUrl);
      const bytes = Buffer.from(body);
      let answered = false;
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${worker.apiKey}`, 'content-length': bytes.length } },
        (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0 }));
            req.destroy();
          });
        },
      );
      req.on('error', (e) => {
        if (!answered) reject(e);
      });
      req.write(bytes.subarray(0, 65_536));
      setTimeout(() => {
        if (!answered) req.end(bytes.subarray(65_536));
      }, 1_000);
    });

  /** The JSON-RPC error of an answer sent as JSON or as one SSE event. */
  async function rpcError(r: Response): Promise<{ code: number; message: string } | undefined> {
    const text = await r.text();
    const data = text.includes('data:') ? text.split('\n').find((l) => l.startsWith('data:'))!.slice(5) : text;
    return (JSON.parse(data) as { error?: { code: number; message: string } }).error;
  }

  const RAW: Array<[string, number, number | null, () => Promise<Response>]> = [
    ['a body that is not JSON', 400, -32700, () => post('{"jsonrpc": "2.0", ')],
    ['an empty body', 400, -32700, () => post('')],
    ['a JSON array of nothing', 400, -32600, () => post('[]')],
    ['a JSON string', 400, -32600, () => post('"initialize"')],
    ['jsonrpc 1.0', 400, -32600, () => post(JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'tools/list' }))],
    ['an unknown method', 200, -32601, () => post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/destroy', params: {} }))],
    ['a text/plain body', 415, null, () => post('x', { 'content-type': 'text/plain' })],
    ['no Authorization header', 401, null, () => post('{}', { authorization: '' })],
    ['a malformed bearer key', 401, null, () => post('{}', { authorization: 'Bearer c4m_short' })],
    ['an oversized body (5 MB)', 413, null, () => postLarge(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'scrape', arguments: { url: 'https://example.com/', pad: 'x'.repeat(5_000_000) } } }))],
  ];

  it.each(RAW)('%s -> HTTP %i, JSON-RPC error %s', async (_name, status, code, send) => {
    const r = await send();
    expect(r.status).toBe(status);
    if (code !== null) {
      const err = await rpcError(r);
      expect(err?.code).toBe(code);
      expect(err?.message).not.toMatch(/\n\s+at /);
    } else {
      const body = await r.text();
      expect(body).not.toMatch(/\n\s+at /);
    }
  });
});

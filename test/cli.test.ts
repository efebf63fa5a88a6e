import { afterAll, describe, expect, it, beforeAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { cliEnv, lines, runCli, tempHome } from './helpers/cli.js';
import { StateStore } from '../src/state/store.js';
import { newDeploymentState } from '../src/state/schema.js';
import { openSecretStore } from '../src/secrets/store.js';
import { deploymentSecret } from '../src/secrets/keys.js';
import { EXIT_CODE_TABLE } from '../src/ground/errors.js';
import { CLI, ROOT } from './helpers/cli.js';
import { execFileSync } from 'node:child_process';
import { startEc2Emulator, type Ec2Emulator } from './emulators/ec2/index.ts';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulators/cloudflare/index.ts';
import { startVmSimulator, type VmSimulator } from './helpers/vm-simulator.js';
import { AWS_ACCESS_KEY, ec2Instances, journeyEnv } from './helpers/journey.js';

const PASS = 'correct horse battery staple';

/** A deployment as `init` leaves it: a state file with a Worker URL and the API key in the secret store. */
async function seedDeployment(home: string, name: string, apiKey: string) {
  const env = cliEnv(home, { CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASS });
  const state = newDeploymentState(name);
  state.status = 'ready';
  state.provider = 'aws';
  state.worker = { scriptName: `crawl4ai-mcp-${name}`, url: `https://crawl4ai-mcp-${name}.me.workers.dev` };
  await new StateStore(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments')).write(state);
  const store = await openSecretStore({ env, interactive: false });
  await store.set(deploymentSecret(name, 'mcp-api-key'), apiKey);
  return env;
}

describe('the command line', () => {
  let home: string;
  beforeAll(() => {
    home = tempHome();
  });

  it('--help lists the commands and global options', async () => {
    const r = await runCli(['--help'], { env: cliEnv(home) });
    expect(r.code).toBe(0);
    for (const word of ['connect', 'doctor', '--name', '--json', '--yes', '--verbose']) expect(r.stdout).toContain(word);
  });

  it('the README documents exactly the exit codes the code uses', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Exit codes'), readme.indexOf('\n## ', readme.indexOf('## Exit codes') + 1));
    const rows = [...section.matchAll(/^\| (\d+) \| (.+?) \|$/gm)].map((m) => ({ code: Number(m[1]), meaning: m[2] }));
    expect(rows).toEqual(EXIT_CODE_TABLE.map(({ code, meaning }) => ({ code, meaning: meaning.replace(/--yes/, '`--yes`') })));
  });

  it('an unknown command exits 2 with one error line and a hint', async () => {
    const r = await runCli(['frobnicate'], { env: cliEnv(home) });
    expect(r.code).toBe(2);
    const err = lines(r.stderr);
    expect(err[0]).toMatch(/unknown command 'frobnicate'/);
    expect(err.length).toBeLessThanOrEqual(2);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a bad --name exits 2 and says which characters are allowed', async () => {
    for (const bad of ['Bad_Name', 'x'.repeat(33), '']) {
      const r = await runCli(['--name', bad, 'doctor'], { env: cliEnv(home) });
      expect(r.code, bad).toBe(2);
      const err = lines(r.stderr);
      expect(err[0]).toContain('invalid deployment name');
      expect(err[1]).toMatch(/a-z, 0-9/);
      expect(err.length).toBe(2);
    }
  });

  it('--yes with a missing answer fails, naming the variable to set', async () => {
    const h = tempHome();
    const env = await seedDeployment(h, 'default', 'c4m_' + 'k'.repeat(43));
    delete env.CRAWL4AI_MCP_PASSPHRASE;
    const r = await runCli(['--yes', 'connect'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CRAWL4AI_MCP_PASSPHRASE');
    expect(lines(r.stderr).length).toBeLessThanOrEqual(2);
  });

  it('init --yes without cloud credentials names the variable to set, before any cloud call', async () => {
    const r = await runCli(['init', '--yes', '--provider', 'aws', '--region', 'us-east-1'], {
      env: cliEnv(tempHome(), { CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASS }),
    });
    expect(r.code).toBe(2);
    const err = lines(r.stderr);
    expect(err[0]).toMatch(/^error: the AWS access key ID is not in the secret store/);
    expect(err[1]).toMatch(/^hint: set AWS_ACCESS_KEY_ID, or use --credentials chain/);
    expect(err).toHaveLength(2);
  });

  it('init --yes without a provider names the flag and the variable', async () => {
    const r = await runCli(['init', '--yes'], { env: cliEnv(tempHome(), { CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASS }) });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual(['error: --yes was given but the cloud provider is not set', 'hint: pass --provider or CRAWL4AI_MCP_PROVIDER']);
  });

  it('a secret never reaches the output, even inside an error message or a --verbose trace', async () => {
    const secret = 'tok_' + 'S3cr3tValue'.repeat(3);
    // The value is invalid as a deployment name, so the error message quotes it.
    for (const extra of [[], ['--verbose']]) {
      const r = await runCli(['--name', secret, ...extra, 'doctor'], { env: cliEnv(home, { CLOUDFLARE_API_TOKEN: secret }) });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('invalid deployment name');
      expect(r.stderr + r.stdout).not.toContain(secret);
      expect(r.stderr).toContain('****');
    }
  });

  it('doctor --json reports the secret backend and every check', async () => {
    const r = await runCli(['doctor', '--json'], { env: cliEnv(home, { CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASS }) });
    const report = JSON.parse(r.stdout);
    expect(report.secretBackend.backend).toBe('file');
    expect(report.secretBackend.reason).toMatch(/CRAWL4AI_MCP_SECRET_BACKEND/);
    const ids = report.checks.map((c: { id: string }) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['node', 'secrets', 'wrangler', 'docker', 'config']));
    const wrangler = report.checks.find((c: { id: string }) => c.id === 'wrangler');
    expect(wrangler.status).toBe('ok');
    expect(wrangler.detail).toMatch(/^v4\./);
    expect(r.code).toBe(report.ok ? 0 : 1);
  });

  it('doctor warns that Connectivity Directory Bind could not be checked when the token may not read its own policies', async () => {
    const { ALL_PERMISSION_GROUPS } = await import('./emulators/cloudflare/token-permissions.ts');
    const token = 'cf-token-' + 'd'.repeat(32);
    const cf = await startCloudflareEmulator({ apiToken: token, tokenPermissions: ALL_PERMISSION_GROUPS.filter((g) => g !== 'API Tokens Read') });
    try {
      const env = cliEnv(home, { CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASS, CLOUDFLARE_API_BASE_URL: cf.apiBaseUrl, CLOUDFLARE_ACCOUNT_ID: cf.accountId, CLOUDFLARE_API_TOKEN: token });
      const r = await runCli(['doctor', '--json'], { env });
      const check = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === 'cloudflare');
      expect(check.status).toBe('warn');
      expect(check.detail).toMatch(/could not check Account › Connectivity Directory › Bind/);
    } finally {
      await cf.close();
    }
  });

  it('doctor without --json prints one ✔/✘ line per check', async () => {
    const r = await runCli(['doctor'], { env: cliEnv(home, { CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASS }) });
    expect(r.stdout).toMatch(/✔ Node\.js: v\d+/);
    expect(r.stdout).toMatch(/wrangler: v4\./);
    expect(r.stdout).not.toMatch(/\u001b\[/); // NO_COLOR and not a TTY: no colour codes
  });
});

describe('connect', () => {
  const apiKey = 'c4m_' + Buffer.alloc(32, 7).toString('base64url');

  it('exits 5 and says so when the deployment does not exist', async () => {
    const r = await runCli(['connect'], { env: cliEnv(tempHome(), { CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASS }) });
    expect(r.code).toBe(5);
    expect(lines(r.stderr)[0]).toContain('no deployment named "default"');
  });

  it('prints each client the configuration shape it expects', async () => {
    const h = tempHome();
    const env = await seedDeployment(h, 'work', apiKey);
    const url = 'https://crawl4ai-mcp-work.me.workers.dev/mcp';

    const desktop = await runCli(['--name', 'work', 'connect', '--client', 'claude-desktop'], { env });
    expect(desktop.code).toBe(0);
    const d = JSON.parse(desktop.stdout).mcpServers['crawl4ai-work'];
    expect(d.command).toBe('npx');
    expect(d.args).toContain(url);
    expect(d.args).toContain('Authorization:${AUTH}');
    for (const a of d.args) expect(a).not.toMatch(/\s/); // no space inside an args element
    expect(d.env.AUTH).toBe(`Bearer ${apiKey}`);
    expect(JSON.stringify(d.args)).not.toContain(apiKey); // the key lives in env, not args

    const cursor = await runCli(['--name', 'work', 'connect', '--client', 'cursor'], { env });
    const cu = JSON.parse(cursor.stdout).mcpServers['crawl4ai-work'];
    expect(cu).toEqual({ url, headers: { Authorization: `Bearer ${apiKey}` } });

    const vscode = await runCli(['--name', 'work', 'connect', '--client', 'vscode'], { env });
    const vs = JSON.parse(vscode.stdout).servers['crawl4ai-work'];
    expect(vs).toEqual({ type: 'http', url, headers: { Authorization: `Bearer ${apiKey}` } });

    const code = await runCli(['--name', 'work', 'connect', '--client', 'claude-code'], { env });
    expect(code.stdout.trim()).toBe(
      [
        'CRAWL4AI_MCP_KEY="$(crawl4ai-mcp connect --name work --key-only)"',
        `claude mcp add --transport http crawl4ai-work ${url} --header "Authorization: Bearer $CRAWL4AI_MCP_KEY"`,
      ].join('\n'),
    );
    expect(code.stdout).not.toContain(apiKey);

    const all = await runCli(['--name', 'work', 'connect', '--json'], { env });
    const doc = JSON.parse(all.stdout);
    expect(doc.url).toBe(url);
    expect(Object.keys(doc.clients).sort()).toEqual(['claude-ai', 'claude-code', 'claude-desktop', 'cursor', 'vscode']);
    // the connector needs the URL only: no key in its steps
    expect(doc.clients['claude-ai'].url).toBe(url);
    expect(JSON.stringify(doc.clients['claude-ai'])).not.toContain(apiKey);
    expect(doc.clients['claude-ai'].steps.join('\n')).toMatch(/Add custom connector[\s\S]*paste the URL[\s\S]*connect --name work --client claude-ai/);
  });

  it('the Claude Code snippet, run in bash, gives claude the key while history and the screen never show it', async () => {
    const h = tempHome();
    const env = await seedDeployment(h, 'work', apiKey);
    const snippet = (await runCli(['--name', 'work', 'connect', '--client', 'claude-code'], { env })).stdout;
    // a bin dir with `crawl4ai-mcp` (this checkout) and a stand-in `claude` that records its argv
    const bin = path.join(h, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'crawl4ai-mcp'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'claude'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "${path.join(h, 'claude-argv')}"\n`, { mode: 0o755 });
    const histfile = path.join(h, 'bash_history');
    // an interactive bash with history on, as a user would paste it
    const out = execFileSync('bash', ['--norc', '-i'], {
      input: `set -o history\nHISTFILE=${histfile}\n${snippet}\nhistory -w\nexit\n`,
      env: { ...env, PATH: `${bin}:${env.PATH ?? ''}` },
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const argv = fs.readFileSync(path.join(h, 'claude-argv'), 'utf8').split('\n');
    expect(argv.slice(0, 7)).toEqual(['mcp', 'add', '--transport', 'http', 'crawl4ai-work', 'https://crawl4ai-mcp-work.me.workers.dev/mcp', '--header']);
    expect(argv[7]).toBe(`Authorization: Bearer ${apiKey}`);
    expect(fs.readFileSync(histfile, 'utf8')).toContain('claude mcp add');
    expect(fs.readFileSync(histfile, 'utf8')).not.toContain(apiKey);
    expect(out).not.toContain(apiKey);
    const keyOnly = await runCli(['--name', 'work', 'connect', '--key-only'], { env });
    expect(keyOnly.stdout).toBe(`${apiKey}\n`);
  });

  it('rejects an unknown --client with exit 2', async () => {
    const r = await runCli(['connect', '--client', 'emacs'], { env: cliEnv(tempHome()) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/emacs/);
  });
});

describe('cloud credentials: init stores them, day-2 commands only read them', () => {
  const ADMIN_KEY = 'AKIAADMINADMINADMIN0';
  const TEMP_KEY = 'ASIATEMPORARYKEY0001';
  const CF_TOKEN = 'cf-token-' + 'c'.repeat(32);
  let ec2: Ec2Emulator;
  let cf: CloudflareEmulator;
  let env: NodeJS.ProcessEnv;
  const sims: VmSimulator[] = [];

  beforeAll(async () => {
    // The emulator accepts all three keys and logs which one signed each call.
    ec2 = await startEc2Emulator({ transitionMs: 100, accessKeyId: [AWS_ACCESS_KEY, ADMIN_KEY, TEMP_KEY], iamPolicy: 'template' });
    cf = await startCloudflareEmulator({ accountId: 'acc0000000000000000000000000000c', apiToken: CF_TOKEN });
    env = journeyEnv(ec2, cf, CF_TOKEN, 'c4m-creds-');
  }, 120_000);
  afterAll(async () => {
    for (const s of sims) await s.stop();
    await cf?.close();
    await ec2?.close();
  });

  const cli = (name: string, args: string[], extra: Record<string, string | undefined> = {}) =>
    runCli(['--name', name, ...args], { env: { ...env, ...extra }, timeoutMs: 240_000 });
  const init = (name: string, extra: Record<string, string | undefined> = {}) => {
    sims.push(startVmSimulator(ec2Instances(ec2, name), cf));
    return cli(name, ['init', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small', '--network', 'public'], extra);
  };
  const secretFile = () => path.join(env.CRAWL4AI_MCP_HOME!, 'secrets.enc.json');
  const keysSince = (from: number) => new Set(ec2.requests.slice(from).map((r) => r.accessKeyId));

  it('status with other credentials exported uses the stored least-privilege key and leaves the store unchanged', async () => {
    const first = await init('creds');
    expect(first.code, first.stderr).toBe(0);
    expect(lines(first.stderr).filter((l) => l.includes('stored the AWS access key'))).toHaveLength(1);
    const before = fs.readFileSync(secretFile());

    const from = ec2.requests.length;
    const admin = { AWS_ACCESS_KEY_ID: ADMIN_KEY, AWS_SECRET_ACCESS_KEY: 'adminSecret' + 'a'.repeat(29) };
    const status = await cli('creds', ['status'], admin);
    expect(status.code, status.stderr).toBe(0);
    expect(keysSince(from)).toEqual(new Set([AWS_ACCESS_KEY]));
    expect(status.stderr).toMatch(/using the AWS access key stored as profile "default"; the one in AWS_ACCESS_KEY_ID is ignored/);
    expect(fs.readFileSync(secretFile()).equals(before)).toBe(true);
    const store = await openSecretStore({ env, interactive: false });
    expect(await store.get('profile/aws/default/accessKeyId')).toBe(AWS_ACCESS_KEY);

    const stop = await cli('creds', ['stop'], admin);
    expect(stop.code, stop.stderr).toBe(0);
    const destroy = await cli('creds', ['destroy', '--yes'], admin);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(keysSince(from)).toEqual(new Set([AWS_ACCESS_KEY]));
    expect(ec2.resourcesOf('creds')).toEqual([]);
  }, 300_000);

  it('init with temporary credentials (AWS_SESSION_TOKEN) works and stores nothing of them', async () => {
    const temp = { CRAWL4AI_MCP_HOME: path.join(tempHome('c4m-temp-'), 'config'), AWS_ACCESS_KEY_ID: TEMP_KEY, AWS_SECRET_ACCESS_KEY: 'tempSecret' + 't'.repeat(30), AWS_SESSION_TOKEN: 'IQoJb3JpZ2luX2VjE' + 's'.repeat(60) };
    const from = ec2.requests.length;
    const r = await init('temp', temp);
    expect(r.code, r.stderr).toBe(0);
    expect(keysSince(from)).toEqual(new Set([TEMP_KEY]));
    expect(r.stderr).toContain('for this run only; nothing is stored');
    expect(r.stderr + r.stdout).not.toContain(temp.AWS_SESSION_TOKEN);
    const secrets = fs.readFileSync(path.join(temp.CRAWL4AI_MCP_HOME, 'secrets.enc.json'), 'utf8');
    expect(secrets).not.toContain('profile/aws/');
    expect(secrets).toContain('profile/cloudflare/');
    const destroy = await cli('temp', ['destroy', '--yes'], temp);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect(ec2.resourcesOf('temp')).toEqual([]);
  }, 300_000);
});

describe('a resumed init', () => {
  /** A state file as an init that stopped half-way leaves it. */
  async function halfDone(home: string, name: string, region: string, network: 'tunnel' | 'public') {
    const env = cliEnv(home, {
      CRAWL4AI_MCP_SECRET_BACKEND: 'file',
      CRAWL4AI_MCP_PASSPHRASE: PASS,
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'resumeSecret' + 'r'.repeat(28),
      CLOUDFLARE_ACCOUNT_ID: 'acc0000000000000000000000000000f',
      CLOUDFLARE_API_TOKEN: 'cf-token-' + 'r'.repeat(32),
      // nothing answers here: a refusal must come before any cloud call
      AWS_ENDPOINT_URL_EC2: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_IAM: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9',
      CLOUDFLARE_API_BASE_URL: 'http://127.0.0.1:9/client/v4',
    });
    const state = newDeploymentState(name);
    Object.assign(state, { status: 'provisioning', provider: 'aws', region, network, size: 'small', profile: 'default', credentials: 'keychain' });
    await new StateStore(path.join(env.CRAWL4AI_MCP_HOME!, 'deployments')).write(state);
    return env;
  }

  it('in another region or network mode is refused (exit 2), naming where it began and how to destroy it', async () => {
    const env = await halfDone(tempHome(), 'half', 'us-east-1', 'tunnel');
    const init = (region: string, network: string) =>
      runCli(['--name', 'half', 'init', '--yes', '--provider', 'aws', '--region', region, '--size', 'small', '--network', network], { env });
    for (const [region, network] of [['eu-west-1', 'tunnel'], ['us-east-1', 'public']] as const) {
      const r = await init(region, network);
      expect(r.code, r.stderr).toBe(2);
      const err = lines(r.stderr).filter((l) => !l.startsWith('›'));
      expect(err[0]).toBe(`error: deployment "half" was started in us-east-1 with the tunnel network; this run asks for ${region} with the ${network} network`);
      expect(err[1]).toContain('--region us-east-1 --network tunnel');
      expect(err[1]).toContain('crawl4ai-mcp destroy --name half');
      expect(err).toHaveLength(2);
    }
  });
});

import { describe, expect, it, beforeAll } from 'vitest';
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
    expect(Object.keys(doc.clients).sort()).toEqual(['claude-code', 'claude-desktop', 'cursor', 'vscode']);
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

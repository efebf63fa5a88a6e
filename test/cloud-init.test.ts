/**
 * The VM bootstrap, checked with the real tools from Debian's packages (no VM runs here):
 *   cloud-init schema --config-file FILE            (package cloud-init; 22.4 on Debian 12)
 *   shellcheck FILE...                              (package shellcheck)
 *   caddy validate --adapter caddyfile --config F   (package caddy; 2.6, as on Ubuntu 24.04)
 *   systemd-analyze verify --root=DIR UNIT...       (package systemd; skipped where absent)
 * Only the checks that run those programs need them (skipped with a loud warning where missing;
 * required in CI, see test/helpers/system-tools.ts). The rendered YAML is parsed with the `yaml`
 * package (YAML 1.1 mode, as cloud-init's PyYAML reads it), so everything else runs anywhere.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { BlockList } from 'node:net';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYamlText } from 'yaml';
import { itWith, type SystemTool } from './helpers/system-tools.js';
import {
  CRAWL4AI_IMAGE,
  USER_DATA_MAX_BYTES,
  hostnameForIp,
  memoryLimitFor,
  renderBootstrapFile,
  renderCaddyfile,
  renderCloudInit,
  runningImageFromConsole,
  secretFreeUserData,
  type BootstrapInput,
} from '../src/bootstrap/cloud-init.js';
import { CliError } from '../src/ground/errors.js';

/** Cloudflare's packaging keys: the 2025 cloudflare-main.gpg key, and the older one apt rejects (SHA-1 binding). */
const CLOUDFLARE_KEY_2025 = 'CC94B39C77AE7342A68B89628A682D308D4E5E73';
const CLOUDFLARE_KEY_SHA1 = 'FBA8C0EE63617C5EED695C43254B391D8CACCBF8';

// Fake secrets, distinctive enough to find anywhere they leak.
const C4AI_TOKEN = 'c4aiSECRET' + '0123456789abcdef'.repeat(3);
const TUNNEL_TOKEN = 'eyJhIjoiVFVOTkVMU0VDUkVUIiwidCI6IjEyMyIsInMiOiJzZWNyZXQifQ' + 'Q'.repeat(40) + '==';

const BASE = {
  deployment: 'demo',
  crawl4aiImage: CRAWL4AI_IMAGE,
  crawl4aiToken: C4AI_TOKEN,
  memoryLimit: memoryLimitFor(4),
  memoryGiB: 4,
} as const;
const PUBLIC: BootstrapInput = { ...BASE, network: 'public', hostname: hostnameForIp('203.0.113.7', 'sslip.io'), acmeEmail: 'ops@example.com' };
const PUBLIC_NO_EMAIL: BootstrapInput = { ...BASE, network: 'public', hostname: 'crawl.example.com' };
const TUNNEL: BootstrapInput = { ...BASE, network: 'tunnel', tunnelToken: TUNNEL_TOKEN };

/** The shell helpers that bootstrap.sh and network-setup.sh source (templates/cloud-init/lib.sh). */
const LIB_SH = '/usr/local/lib/crawl4ai-mcp/lib.sh';
const HELPERS = ['log', 'die', 'retry', 'apt_get'] as const;

const CLOUD_INIT: SystemTool = { cmd: 'cloud-init', pkg: 'cloud-init' };
const SHELLCHECK: SystemTool = { cmd: 'shellcheck', pkg: 'shellcheck' };
const CADDY: SystemTool = { cmd: 'caddy', pkg: 'caddy' };

interface WriteFile {
  path: string;
  content: string;
  permissions?: string;
  owner?: string;
  encoding?: string;
}
interface CloudConfig {
  write_files: WriteFile[];
  runcmd?: Array<string | string[]>;
  bootcmd?: Array<string | string[]>;
  [key: string]: unknown;
}

let dir: string;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 20_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function write(name: string, text: string, mode = 0o600): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
  return file;
}

/**
 * The user data as cloud-init reads it (PyYAML's safe_load is YAML 1.1), with the gzipped scripts
 * (`encoding: gz+b64`) decoded as cloud-init's write_files writes them.
 */
function parseYaml(file: string): CloudConfig {
  const cfg = parseYamlText(fs.readFileSync(file, 'utf8'), { version: '1.1' }) as CloudConfig;
  for (const f of cfg.write_files) {
    if (f.encoding === undefined) continue;
    expect(f.encoding, f.path).toBe('gz+b64');
    f.content = gunzipSync(Buffer.from(f.content, 'base64')).toString('utf8');
  }
  return cfg;
}

function entry(cfg: CloudConfig, p: string): WriteFile {
  const found = cfg.write_files.find((f) => f.path === p);
  if (!found) throw new Error(`no write_files entry for ${p}`);
  return found;
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** The `docker run` command of a script, with its continuation lines joined. */
function dockerRunCommands(script: string): string[] {
  return script
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => /\bdocker run\b/.test(l) && !l.trim().startsWith('#'));
}

const MODES = [
  ['public', PUBLIC],
  ['public without an ACME email', PUBLIC_NO_EMAIL],
  ['tunnel', TUNNEL],
] as const;

/** raw: the user data as sent; text: the same with its gzipped scripts decoded (for content checks). */
const rendered: Record<string, { raw: string; text: string; file: string; cfg: CloudConfig }> = {};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-cloud-init-'));
  for (const [name, input] of MODES) {
    const raw = renderCloudInit(input);
    const file = write(`${name.replace(/ /g, '-')}/user-data.yaml`, raw);
    const cfg = parseYaml(file);
    const decoded = cfg.write_files.filter((f) => f.encoding).map((f) => f.content);
    rendered[name] = { raw, text: [raw, ...decoded].join('\n'), file, cfg };
  }
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe.each(MODES)('rendered cloud-config (%s mode)', (name, input) => {
  const doc = () => rendered[name]!;

  itWith([CLOUD_INIT])('passes `cloud-init schema --config-file`', () => {
    const r = run('cloud-init', ['schema', '--config-file', doc().file]);
    if (r.code !== 0) {
      const annotated = run('cloud-init', ['schema', '--config-file', doc().file, '--annotate']);
      throw new Error(`cloud-init schema failed:\n${r.out}\n${annotated.out}`);
    }
    expect(r.out).toContain('Valid cloud-config');
  });

  it('starts with #cloud-config, uses only known top-level keys and fits EC2 user data (16 KB)', () => {
    // cloud-init 22.4's schema lets unknown top-level keys through, so check them here.
    expect(doc().text.startsWith('#cloud-config\n')).toBe(true);
    expect(Object.keys(doc().cfg).sort()).toEqual(['final_message', 'runcmd', 'write_files']);
    expect(Buffer.byteLength(doc().raw)).toBeLessThan(USER_DATA_MAX_BYTES);
    // the largest inputs: a 32-character name, a long hostname, a tunnel token of 1 KB
    const big = renderCloudInit({ ...input, deployment: 'd'.repeat(32), ...(input.network === 'tunnel' ? { tunnelToken: 'e'.repeat(1024) } : { hostname: `${'h'.repeat(63)}.${'h'.repeat(63)}.example.com` }) });
    expect(Buffer.byteLength(big)).toBeLessThan(USER_DATA_MAX_BYTES - 2048);
  });

  itWith([SHELLCHECK])('every shell script it writes and every runcmd/bootcmd passes shellcheck', () => {
    const cfg = doc().cfg;
    const scripts = cfg.write_files.filter((f) => f.content.startsWith('#!'));
    expect(scripts.map((s) => path.basename(s.path)).sort()).toEqual(
      ['bootstrap.sh', 'crawl4ai-run.sh', 'egress-guard.sh', 'healthcheck.sh', 'idle-stop.sh', 'network-setup.sh'].sort(),
    );
    const files = scripts.map((s) => {
      expect(s.permissions, s.path).toBe('0755');
      return write(`${name.replace(/ /g, '-')}/scripts${s.path}`, s.content, 0o755);
    });
    // The helpers the scripts source: written next to them, so that their `source-path=SCRIPTDIR
    // source=lib.sh` directives make shellcheck follow it, and checked itself as well.
    files.push(write(`${name.replace(/ /g, '-')}/scripts${LIB_SH}`, entry(cfg, LIB_SH).content, 0o644));
    // Shell strings in runcmd/bootcmd run through sh; list forms are exec'd and must name a script above.
    for (const [i, cmd] of [...(cfg.runcmd ?? []), ...(cfg.bootcmd ?? [])].entries()) {
      if (typeof cmd === 'string') files.push(write(`${name.replace(/ /g, '-')}/cmd-${i}.sh`, `#!/bin/sh\n${cmd}\n`));
      else expect(scripts.map((s) => s.path)).toContain(cmd[0]);
    }
    const r = run('shellcheck', ['--format=gcc', ...files]);
    expect(r.out, 'shellcheck findings').toBe('');
    expect(r.code).toBe(0);
  });

  it('gzips the shell scripts (write_files encoding gz+b64), the same bytes on every render; everything else is plain text', () => {
    const cfg = doc().cfg;
    for (const f of cfg.write_files) expect([f.path, f.encoding]).toEqual([f.path, f.content.startsWith('#!') || f.path === LIB_SH ? 'gz+b64' : undefined]);
    expect(renderCloudInit(input)).toBe(doc().raw); // deterministic: a resumed init repeats RunInstances with the same ClientToken
  });

  it('writes the shared shell helpers (lib.sh) once, root-owned and not executable, and the first-boot scripts source them', () => {
    const cfg = doc().cfg;
    const lib = entry(cfg, LIB_SH);
    expect([lib.owner, lib.permissions]).toEqual(['root:root', '0644']);
    expect(lib.content).toBe(renderBootstrapFile(input, 'lib.sh'));
    expect(lib.content.startsWith('#!')).toBe(false);
    for (const fn of HELPERS) expect(lib.content).toMatch(new RegExp(`^${fn}\\(\\) \\{`, 'm'));
    // written by write_files (init stage, not deferred), so it is on disk before runcmd runs bootstrap.sh
    expect(lib).not.toHaveProperty('defer');
    const at = (p: string) => cfg.write_files.findIndex((f) => f.path === p);
    const sourcing = ['/usr/local/lib/crawl4ai-mcp/bootstrap.sh', '/usr/local/lib/crawl4ai-mcp/network-setup.sh'];
    for (const p of sourcing) {
      const script = entry(cfg, p).content;
      expect(at(LIB_SH), p).toBeLessThan(at(p));
      expect(script, p).toMatch(/^# shellcheck source-path=SCRIPTDIR source=lib\.sh\n\. \/usr\/local\/lib\/crawl4ai-mcp\/lib\.sh$/m);
      // sourced before the first helper is used
      const sourcedAt = script.indexOf(`. ${LIB_SH}`);
      for (const fn of HELPERS) {
        const used = script.search(new RegExp(`^(?:retry \\d+ )?${fn}\\b`, 'm'));
        if (used !== -1) expect(sourcedAt, `${p}: ${fn}`).toBeLessThan(used);
      }
    }
    // no script defines a helper of its own again
    for (const f of cfg.write_files.filter((f) => f.path !== LIB_SH)) {
      for (const fn of HELPERS) expect(f.content, f.path).not.toMatch(new RegExp(`^\\s*${fn}\\(\\)`, 'm'));
    }
  });

  it('writes the same scripts that renderBootstrapFile renders', () => {
    const cfg = doc().cfg;
    expect(entry(cfg, '/usr/local/lib/crawl4ai-mcp/bootstrap.sh').content).toBe(renderBootstrapFile(input, 'bootstrap.sh'));
    const setup = input.network === 'public' ? 'setup-public.sh' : 'setup-tunnel.sh';
    expect(entry(cfg, '/usr/local/lib/crawl4ai-mcp/network-setup.sh').content).toBe(renderBootstrapFile(input, setup));
    expect(() => renderBootstrapFile(input, 'user-data.yaml')).toThrow();
  });

  it('runs the pinned 0.9.x image on 127.0.0.1:11235 with the token only in an env file', () => {
    const cfg = doc().cfg;
    expect(entry(cfg, '/etc/crawl4ai/settings.env').content).toMatch(/^CRAWL4AI_IMAGE=unclecode\/crawl4ai:0\.9\.\d+$/m);
    const runScript = entry(cfg, '/usr/local/lib/crawl4ai-mcp/crawl4ai-run.sh').content;
    const runs = dockerRunCommands(runScript);
    expect(runs).toHaveLength(1);
    const dockerRun = runs[0]!;
    expect(dockerRun).toContain('-p 127.0.0.1:11235:11235');
    expect(dockerRun).not.toMatch(/-p\s+11235|-p\s+0\.0\.0\.0|--publish-all|-P\b|--network[= ]host/);
    expect(dockerRun).toContain('--shm-size=1g');
    expect(dockerRun).toContain('--memory="$limit"');
    expect(dockerRun).toContain('--env-file /etc/crawl4ai/crawl4ai.env');
    expect(dockerRun).toContain('-e GUNICORN_BIND=0.0.0.0:11235');
    expect(dockerRun).not.toContain('CRAWL4AI_API_TOKEN');
    expect(dockerRun).not.toContain(C4AI_TOKEN);
    expect(entry(cfg, '/etc/crawl4ai/settings.env').content).toContain('CRAWL4AI_MEMORY_LIMIT=3g');
    // no docker run anywhere else, and no secret in any runcmd
    for (const f of cfg.write_files) if (f.path !== '/usr/local/lib/crawl4ai-mcp/crawl4ai-run.sh') expect(dockerRunCommands(f.content)).toEqual([]);
    expect(JSON.stringify(cfg.runcmd)).not.toMatch(/SECRET|docker run/);
    // systemd supervises it, restarts it, and a timer restarts it when /health keeps failing
    const unit = entry(cfg, '/etc/systemd/system/crawl4ai.service').content;
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^Requires=.*crawl4ai-egress-guard\.service/m);
    expect(entry(cfg, '/usr/local/lib/crawl4ai-mcp/healthcheck.sh').content).toContain('http://127.0.0.1:11235/health');
  });

  it('installs the idle watchdog on the health timer; its minutes come from the settings (0 = off unless init gives them)', () => {
    const cfg = doc().cfg;
    expect(entry(cfg, '/etc/crawl4ai/settings.env').content).toMatch(/^IDLE_STOP_MINUTES=0$/m);
    const script = entry(cfg, '/usr/local/lib/crawl4ai-mcp/idle-stop.sh');
    expect([script.owner, script.permissions]).toEqual(['root:root', '0755']);
    expect(script.content).toBe(renderBootstrapFile(input, 'idle-stop.sh'));
    expect(script.content).toContain('CONFIG=${IDLE_STOP_CONFIG:-/etc/crawl4ai/settings.env}');
    expect(script.content).toContain('systemctl poweroff');
    // the health check's failure must not skip the watchdog ("-" prefix), and the watchdog runs after it
    expect(entry(cfg, '/etc/systemd/system/crawl4ai-health.service').content).toMatch(/^ExecStart=-\/usr\/local\/lib\/crawl4ai-mcp\/healthcheck\.sh\nExecStart=\/usr\/local\/lib\/crawl4ai-mcp\/idle-stop\.sh$/m);
    const withIdle = parseYamlText(renderCloudInit({ ...input, idleStopMinutes: 45 }), { version: '1.1' }) as CloudConfig;
    expect(entry(withIdle, '/etc/crawl4ai/settings.env').content).toMatch(/^IDLE_STOP_MINUTES=45$/m);
    expect(() => renderCloudInit({ ...input, idleStopMinutes: 1.5 })).toThrow(/invalid idleStopMinutes/);
  });

  it('applies the egress guard (both families, one iptables-restore each), re-applied with Docker', () => {
    const cfg = doc().cfg;
    const guard = entry(cfg, '/usr/local/lib/crawl4ai-mcp/egress-guard.sh').content;
    expect(guard).toBe(renderBootstrapFile(input, 'egress-guard.sh'));
    expect(guard).toContain('rules "$family" "$vpc" "$dns" | "$tables-restore" --noflush');
    const unit = entry(cfg, '/etc/systemd/system/crawl4ai-egress-guard.service').content;
    expect(unit).toMatch(/^After=docker\.service$/m);
    expect(unit).toMatch(/^PartOf=docker\.service$/m);
    expect(unit).toMatch(/^WantedBy=docker\.service/m);
  });

  it('holds each secret once, only in a 0600 root write_files entry', () => {
    const { text, cfg } = doc();
    const secrets: Array<[string, string]> = [[C4AI_TOKEN, '/etc/crawl4ai/crawl4ai.env']];
    if (input.network === 'tunnel') secrets.push([TUNNEL_TOKEN, '/etc/cloudflared/tunnel.env']);
    else expect(text).not.toContain(TUNNEL_TOKEN);
    for (const [secret, file] of secrets) {
      expect(count(text, secret)).toBe(1);
      const holders = cfg.write_files.filter((f) => f.content.includes(secret));
      expect(holders.map((f) => [f.path, f.permissions, f.owner])).toEqual([[file, '0600', 'root:root']]);
    }
  });

  it('its systemd units pass `systemd-analyze verify`', (ctx) => {
    if (spawnSync('sh', ['-c', 'command -v systemd-analyze']).status !== 0) ctx.skip();
    // A throw-away root with the units, stand-ins for the binaries they run and the system's own units.
    const root = path.join(dir, `${name.replace(/ /g, '-')}-root`);
    fs.mkdirSync(path.join(root, 'lib/systemd'), { recursive: true });
    fs.cpSync('/lib/systemd/system', path.join(root, 'lib/systemd/system'), { recursive: true, dereference: false });
    fs.writeFileSync(path.join(root, 'lib/systemd/system/docker.service'), '[Service]\nExecStart=/usr/bin/docker\n');
    const units: string[] = [];
    for (const f of doc().cfg.write_files) {
      if (f.path.startsWith('/etc/systemd/system/')) units.push(path.basename(f.path));
      fs.mkdirSync(path.join(root, path.dirname(f.path)), { recursive: true });
      fs.writeFileSync(path.join(root, f.path), f.content, { mode: Number.parseInt(f.permissions ?? '0644', 8) });
    }
    for (const bin of ['usr/bin/docker', 'usr/bin/cloudflared', 'usr/bin/systemctl']) {
      fs.mkdirSync(path.join(root, path.dirname(bin)), { recursive: true });
      fs.writeFileSync(path.join(root, bin), '#!/bin/sh\n', { mode: 0o755 });
    }
    const r = run('systemd-analyze', ['verify', '--man=no', `--root=${root}`, ...units]);
    expect(r.out, 'systemd-analyze verify findings').toBe('');
    expect(r.code).toBe(0);
  });
});

describe('public mode', () => {
  const caddyEnv = () => {
    // caddy validate provisions the config (TLS automation included) but never starts it, so it
    // does not contact an ACME server; keep its storage and ~/.step out of the real home anyway.
    const home = path.join(dir, 'caddy-home');
    fs.mkdirSync(home, { recursive: true });
    return { PATH: process.env.PATH, HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'config') };
  };

  itWith([CADDY]).each([
    ['with an ACME email', PUBLIC],
    ['without an ACME email', PUBLIC_NO_EMAIL],
  ])('the Caddyfile (%s) passes `caddy validate`', (label, input) => {
    const file = write(`caddy-${label.replace(/ /g, '-')}/Caddyfile`, renderCaddyfile(input), 0o644);
    const r = run('caddy', ['validate', '--adapter', 'caddyfile', '--config', file], caddyEnv());
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('Valid configuration');
  });

  itWith([CADDY])('the Caddyfile serves the hostname, proxies to loopback and uses TLS-ALPN only', () => {
    const file = write('caddy-adapt/Caddyfile', renderCaddyfile(PUBLIC), 0o644);
    const adapted = JSON.parse(run('caddy', ['adapt', '--adapter', 'caddyfile', '--config', file], caddyEnv()).stdout) as {
      apps: {
        http: { servers: Record<string, { listen: string[]; automatic_https?: { disable_redirects?: boolean }; routes: Array<{ match: Array<{ host: string[] }> }> }> };
        tls: { automation: { policies: Array<{ subjects: string[]; issuers: Array<{ module: string; email?: string; challenges?: { http?: { disabled?: boolean } } }> }> } };
      };
    };
    const servers = Object.values(adapted.apps.http.servers);
    expect(servers.flatMap((s) => s.listen)).toEqual([':443']);
    expect(servers[0]!.automatic_https?.disable_redirects).toBe(true);
    expect(servers[0]!.routes[0]!.match[0]!.host).toEqual(['203-0-113-7.sslip.io']);
    const policy = adapted.apps.tls.automation.policies[0]!;
    expect(policy.subjects).toEqual(['203-0-113-7.sslip.io']);
    expect(policy.issuers.map((i) => i.module)).toEqual(['acme', 'zerossl']);
    for (const issuer of policy.issuers) {
      expect(issuer.challenges?.http?.disabled).toBe(true);
      expect(issuer.email).toBe('ops@example.com');
    }
    expect(renderCaddyfile(PUBLIC)).toContain('reverse_proxy 127.0.0.1:11235');
  });

  /** Caddy's path matcher: exact, or a trailing `*` for any rest (case-insensitive, as Caddy's is). */
  const caddyPathMatches = (pattern: string, p: string) =>
    pattern.endsWith('*') ? p.toLowerCase().startsWith(pattern.slice(0, -1).toLowerCase()) : p.toLowerCase() === pattern.toLowerCase();
  const WORKER_ROUTES = ['/health', '/crawl', '/crawl/job', '/crawl/job/*', '/llm/job', '/llm/job/*', '/screenshot', '/pdf', '/monitor/logs/errors', '/monitor/logs/janitor', '/monitor/health'];

  it("lets only the Worker's routes through to Crawl4AI; every other path is a 404 at Caddy", () => {
    const caddyfile = renderCaddyfile(PUBLIC);
    const matcher = /^\t@worker path (.+)$/m.exec(caddyfile)?.[1]?.split(' ');
    expect(matcher?.sort()).toEqual([...WORKER_ROUTES].sort());
    // one reverse_proxy, inside `handle @worker`; the fallback handle answers 404
    expect(count(caddyfile, 'reverse_proxy')).toBe(1);
    expect(caddyfile).toMatch(/\thandle @worker \{\n\t\treverse_proxy 127\.0\.0\.1:11235\n\t\}\n\thandle \{\n\t\trespond 404\n\t\}\n\}\n$/);
    const allowed = (p: string) => matcher!.some((m) => caddyPathMatches(m, p));
    // every route the Crawl4AI client calls is allowed (a new route there must be added here too)
    const client = fs.readFileSync(new URL('../src/mcp/crawl4ai.ts', import.meta.url), 'utf8');
    const called = [...client.matchAll(/this\.request(?:<[^>]*>)?\('(?:GET|POST)', [`'](\/[^`']*)[`']/g)].flatMap(([, p]) =>
      p!.includes('${kind}') ? ['crawl', 'llm'].map((k) => p!.replace('${kind}', k)) : [p!],
    );
    expect(called.length).toBeGreaterThanOrEqual(8);
    for (const p of called.map((x) => x.replace(/\$\{[^}]+\}/g, 'crawl_0123'))) expect(allowed(p), p).toBe(true);
    // Crawl4AI's other routes are not reachable from the internet
    for (const p of ['/', '/token', '/mcp/sse', '/mcp/schema', '/config/dump', '/playground', '/execute_js', '/md', '/html', '/artifacts/abc', '/metrics', '/crawl/stream', '/crawlx', '/healthz']) {
      expect(allowed(p), p).toBe(false);
    }
  });

  itWith([CADDY])('caddy adapt: the only reverse_proxy sits behind the path allowlist, the rest answers 404', () => {
    const file = write('caddy-routes/Caddyfile', renderCaddyfile(PUBLIC_NO_EMAIL), 0o644);
    const r = run('caddy', ['adapt', '--adapter', 'caddyfile', '--config', file], caddyEnv());
    expect(r.code, r.out).toBe(0);
    const adapted = JSON.parse(r.stdout) as { apps: { http: { servers: Record<string, { routes: unknown[] }> } } };
    // every leaf handler with the path matchers on the way to it
    type Route = { match?: Array<{ path?: string[] }>; handle?: Array<{ handler: string; routes?: Route[]; status_code?: number | string; upstreams?: Array<{ dial: string }> }> };
    const leaves: Array<{ handler: string; paths: string[][]; status?: number; dial?: string[] }> = [];
    const walk = (routes: Route[], paths: string[][]) => {
      for (const route of routes) {
        const here = [...paths, ...(route.match ?? []).filter((m) => m.path).map((m) => m.path!)];
        for (const h of route.handle ?? []) {
          if (h.handler === 'subroute') walk(h.routes ?? [], here);
          else leaves.push({ handler: h.handler, paths: here, ...(h.status_code !== undefined ? { status: Number(h.status_code) } : {}), ...(h.upstreams ? { dial: h.upstreams.map((u) => u.dial) } : {}) });
        }
      }
    };
    walk(Object.values(adapted.apps.http.servers)[0]!.routes as Route[], []);
    const proxies = leaves.filter((l) => l.handler === 'reverse_proxy');
    expect(proxies).toHaveLength(1);
    expect(proxies[0]!.dial).toEqual(['127.0.0.1:11235']);
    expect(proxies[0]!.paths.map((p) => [...p].sort())).toEqual([[...WORKER_ROUTES].sort()]);
    expect(leaves.filter((l) => l.handler === 'static_response')).toEqual([{ handler: 'static_response', paths: [], status: 404 }]);
  });

  it('adds the ZeroSSL issuer only when an email is given', () => {
    expect(renderCaddyfile(PUBLIC)).toContain('issuer zerossl');
    expect(renderCaddyfile(PUBLIC_NO_EMAIL)).not.toMatch(/zerossl|email/i);
    expect(renderCaddyfile(PUBLIC_NO_EMAIL)).toContain('crawl.example.com {');
  });

  it('the user data writes exactly renderCaddyfile() to /etc/caddy/Caddyfile and installs Caddy', () => {
    const cfg = rendered.public!.cfg;
    expect(entry(cfg, '/etc/caddy/Caddyfile').content).toBe(renderCaddyfile(PUBLIC));
    expect(entry(cfg, '/usr/local/lib/crawl4ai-mcp/network-setup.sh').content).toMatch(/install --no-install-recommends caddy/);
    expect(rendered.public!.text).not.toMatch(/TUNNEL_TOKEN|cloudflared-crawl4ai|pkg\.cloudflare\.com/);
  });
});

describe('tunnel mode', () => {
  it('has no Caddy, no port 443 and no hostname', () => {
    const { text } = rendered.tunnel!;
    expect(text).not.toMatch(/caddy/i);
    expect(text).not.toMatch(/\b443\b/);
    expect(text).not.toMatch(/sslip\.io|nip\.io/);
  });

  it('runs cloudflared with QUIC and the token from a 0600 EnvironmentFile, never in argv', () => {
    const cfg = rendered.tunnel!.cfg;
    const unit = entry(cfg, '/etc/systemd/system/cloudflared-crawl4ai.service').content;
    const execStart = unit.split('\n').filter((l) => l.startsWith('ExecStart='));
    expect(execStart).toEqual(['ExecStart=/usr/bin/cloudflared --no-autoupdate --protocol quic tunnel run']);
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/cloudflared\/tunnel\.env$/m);
    expect(unit).not.toContain(TUNNEL_TOKEN);
    expect(unit).not.toMatch(/--token\b/);
    expect(entry(cfg, '/etc/cloudflared/tunnel.env')).toMatchObject({ permissions: '0600', content: `TUNNEL_TOKEN=${TUNNEL_TOKEN}\n` });
  });

  it("installs cloudflared >= 2025.7 from Cloudflare's apt repository with a signed-by keyring and a fingerprint check", () => {
    const setup = entry(rendered.tunnel!.cfg, '/usr/local/lib/crawl4ai-mcp/network-setup.sh').content;
    expect(setup).toContain('https://pkg.cloudflare.com/cloudflare-main.gpg');
    expect(setup).toContain('deb [signed-by=$KEYRING] https://pkg.cloudflare.com/cloudflared any main');
    // a non-empty list of pinned fingerprints: the 2025 key, never the SHA-1-bound older one
    const pinned = /^CLOUDFLARE_APT_KEY_FINGERPRINTS="([0-9A-F]{40}(?: [0-9A-F]{40})*)"$/m.exec(setup)?.[1]?.split(' ');
    expect(pinned).toEqual([CLOUDFLARE_KEY_2025]);
    expect(setup).not.toContain(CLOUDFLARE_KEY_SHA1);
    expect(setup).toContain('gpg --batch --show-keys --with-colons');
    expect(setup).toMatch(/^key_fingerprints_ok "\$work\/key\.gpg" \|\| die "refusing to install cloudflared/m);
    expect(setup.indexOf('key_fingerprints_ok "$work/key.gpg"')).toBeLessThan(setup.indexOf('install -m 0644 "$work/key.gpg" "$KEYRING"'));
    expect(setup).toContain('CLOUDFLARED_MIN_VERSION=2025.7.0');
    expect(setup).not.toMatch(/apt-key/);
  });
});

/**
 * The egress guard's rule sets, as `egress-guard.sh --print` renders them for given VPC facts, read
 * back by a small evaluator of the rules we write (first match wins; -d, -p, --dport, conntrack
 * state, -i, owner), so each destination is checked the way the kernel would walk the chain.
 */
describe('egress guard (egress-guard.sh)', () => {
  const VPC = { 4: '172.31.0.0/16 203.0.113.0/24', 6: '2600:1f18:abcd:1200::/56' } as const;
  const DNS = '172.31.0.2 fd00:ec2::253';
  const script = () => write('egress/egress-guard.sh', renderBootstrapFile(TUNNEL, 'egress-guard.sh'), 0o755);
  const print = (family: 4 | 6, vpc: string = VPC[family], dns = DNS) => {
    const r = run('bash', [script(), '--print', String(family), vpc, dns]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout;
  };

  interface Rule {
    chain: string;
    dest?: string;
    proto?: string;
    dport?: number;
    ctstate?: string[];
    inIface?: string;
    notUid?: number;
    target: string;
  }
  function parseRules(text: string): { chains: string[]; rules: Rule[]; jumps: string[] } {
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('*filter');
    expect(lines.at(-1)).toBe('COMMIT');
    const chains: string[] = [];
    const rules: Rule[] = [];
    const jumps: string[] = [];
    for (const line of lines.slice(1, -1)) {
      if (line.startsWith(':')) {
        chains.push(line.slice(1).split(' ')[0]!);
        continue;
      }
      const t = line.split(' ');
      const opt = (name: string) => (t.includes(name) ? t[t.indexOf(name) + 1] : undefined);
      if (t[0] === '-I') {
        jumps.push(line);
        continue;
      }
      expect(t[0], line).toBe('-A');
      const known = new Set(['-A', '-d', '-p', '-m', '--dport', '--ctstate', '-i', '!', '--uid-owner', '-j', 'udp', 'tcp', 'conntrack', 'owner']);
      for (let i = 0; i < t.length; i += 1) {
        if (!known.has(t[i]!)) expect(['-A', '-d', '-p', '--dport', '--ctstate', '-i', '--uid-owner', '-j', '-m'], `${line}: ${t[i]}`).toContain(t[i - 1]);
      }
      rules.push({
        chain: t[1]!,
        target: opt('-j')!,
        ...(opt('-d') ? { dest: opt('-d') } : {}),
        ...(opt('-p') ? { proto: opt('-p') } : {}),
        ...(opt('--dport') ? { dport: Number(opt('--dport')) } : {}),
        ...(opt('--ctstate') ? { ctstate: opt('--ctstate')!.split(',') } : {}),
        ...(opt('-i') ? { inIface: opt('-i') } : {}),
        ...(t.includes('--uid-owner') ? { notUid: Number(opt('--uid-owner')) } : {}),
      });
    }
    return { chains, rules, jumps };
  }
  const inCidr = (addr: string, cidr: string) => {
    const [net, bits] = cidr.includes('/') ? cidr.split('/') : [cidr, cidr.includes(':') ? '128' : '32'];
    const list = new BlockList();
    const family = net!.includes(':') ? 'ipv6' : 'ipv4';
    list.addSubnet(net!, Number(bits), family);
    return list.check(addr, addr.includes(':') ? 'ipv6' : 'ipv4');
  };
  /** The verdict of DOCKER-USER for a NEW connection from a container. */
  function verdict(rules: Rule[], dest: string, proto = 'tcp', dport = 443): string {
    for (const r of rules.filter((x) => x.chain === 'DOCKER-USER')) {
      if (r.ctstate && !r.ctstate.includes('NEW')) continue;
      if (r.dest && !inCidr(dest, r.dest)) continue;
      if (r.proto && r.proto !== proto) continue;
      if (r.dport !== undefined && r.dport !== dport) continue;
      return r.target;
    }
    return 'fell through';
  }

  const RANGES = {
    4: ['0.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', '127.0.0.0/8', '172.31.0.0/16', '203.0.113.0/24'],
    6: ['fc00::/7', 'fe80::/10', '::1/128', '::ffff:0:0/96', '64:ff9b::/96', '2600:1f18:abcd:1200::/56'],
  } as const;

  it.each([4, 6] as const)('IPv%s: DOCKER-USER drops every private, CGNAT, link-local and loopback range and the VPC CIDRs; replies pass first', (family) => {
    const { chains, rules } = parseRules(print(family));
    expect(chains).toEqual(['DOCKER-USER', 'CRAWL4AI-INPUT', 'CRAWL4AI-OUTPUT']);
    const docker = rules.filter((r) => r.chain === 'DOCKER-USER');
    expect(docker[0]).toEqual({ chain: 'DOCKER-USER', ctstate: ['RELATED', 'ESTABLISHED'], target: 'RETURN' });
    expect(docker.at(-1)).toEqual({ chain: 'DOCKER-USER', target: 'RETURN' });
    const dropped = docker.filter((r) => r.target === 'DROP').map((r) => r.dest);
    expect(dropped.sort()).toEqual([...RANGES[family]].sort());
    expect(docker.filter((r) => r.target === 'DROP').every((r) => r.proto === undefined && r.dport === undefined)).toBe(true);
  });

  it('only the VPC resolver on port 53 gets through; everything private is dropped, the public internet passes', () => {
    const v4 = parseRules(print(4)).rules;
    const v6 = parseRules(print(6)).rules;
    const dropped4 = ['10.1.2.3', '172.16.0.1', '172.31.5.5', '192.168.1.1', '100.64.0.1', '100.127.255.254', '169.254.169.254', '169.254.170.2', '127.0.0.1', '203.0.113.9', '0.0.0.0'];
    for (const a of dropped4) expect(verdict(v4, a), a).toBe('DROP');
    const dropped6 = ['fd00:ec2::254', 'fd12:3456::1', 'fe80::1', '::1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '2600:1f18:abcd:1234::1'];
    for (const a of dropped6) expect(verdict(v6, a), a).toBe('DROP');
    for (const a of ['93.184.216.34', '1.1.1.1', '8.8.8.8']) expect(verdict(v4, a), a).toBe('RETURN');
    for (const a of ['2606:4700:4700::1111', '2a00:1450:4001::1']) expect(verdict(v6, a), a).toBe('RETURN');
    // the resolver: port 53 over UDP and TCP, nothing else; no other private address gets 53
    expect(verdict(v4, '172.31.0.2', 'udp', 53)).toBe('RETURN');
    expect(verdict(v4, '172.31.0.2', 'tcp', 53)).toBe('RETURN');
    expect(verdict(v4, '172.31.0.2', 'tcp', 80)).toBe('DROP');
    expect(verdict(v4, '172.31.0.3', 'udp', 53)).toBe('DROP');
    expect(verdict(v4, '10.0.0.2', 'udp', 53)).toBe('DROP');
    expect(verdict(v6, 'fd00:ec2::253', 'udp', 53)).toBe('RETURN');
    expect(verdict(v6, 'fd00:ec2::253', 'tcp', 443)).toBe('DROP');
    const allowed = [...v4, ...v6].filter((r) => r.chain === 'DOCKER-USER' && r.target === 'RETURN' && r.dest);
    expect(allowed.map((r) => `${r.dest} ${r.proto}/${r.dport}`).sort()).toEqual(['172.31.0.2 tcp/53', '172.31.0.2 udp/53', 'fd00:ec2::253 tcp/53', 'fd00:ec2::253 udp/53']);
  });

  it.each([
    [4, '169.254.169.254/32'],
    [6, 'fd00:ec2::254/128'],
  ] as const)('IPv%s: only root reaches the metadata service %s; containers cannot open connections to the host', (family, imds) => {
    const { rules, jumps } = parseRules(print(family));
    expect(rules.filter((r) => r.chain === 'CRAWL4AI-OUTPUT')).toEqual([{ chain: 'CRAWL4AI-OUTPUT', dest: imds, notUid: 0, target: 'DROP' }]);
    expect(rules.filter((r) => r.chain === 'CRAWL4AI-INPUT')).toEqual([{ chain: 'CRAWL4AI-INPUT', inIface: 'docker0', ctstate: ['NEW'], target: 'DROP' }]);
    expect(jumps).toEqual(['-I INPUT 1 -j CRAWL4AI-INPUT', '-I OUTPUT 1 -j CRAWL4AI-OUTPUT']);
    expect(print(family)).toContain(`-A CRAWL4AI-OUTPUT -d ${imds} -m owner ! --uid-owner 0 -j DROP`);
  });

  it('without VPC facts (metadata unreachable) the private ranges still hold; garbage facts never reach the rule set', () => {
    const bare = parseRules(print(4, '', '')).rules;
    expect(bare.filter((r) => r.target === 'DROP' && r.chain === 'DOCKER-USER').map((r) => r.dest)).toHaveLength(7);
    expect(verdict(bare, '172.31.0.2', 'udp', 53)).toBe('DROP');
    const hostile = print(4, '1.2.3.0/24 -j ACCEPT 5.6.7.0/24;reboot face cafe.example', '1.1.1.1\n-A\tINPUT');
    expect(hostile).not.toMatch(/ACCEPT|reboot|face|cafe/);
    expect(hostile).toContain('-A DOCKER-USER -d 1.2.3.0/24 -j DROP');
    expect(hostile).not.toContain('5.6.7.0/24');
  });

  itWith([{ cmd: 'iptables-restore', pkg: 'iptables' }])('both rule sets load with iptables-restore / ip6tables-restore --test', () => {
    for (const [cmd, family] of [['iptables-restore', 4], ['ip6tables-restore', 6]] as const) {
      const file = write(`egress/rules.v${family}`, print(family));
      const r = spawnSync(cmd, ['--test', '--noflush', file], { encoding: 'utf8', timeout: 20_000 });
      expect(`${r.stdout}${r.stderr}`, cmd).toBe('');
      expect(r.status, cmd).toBe(0);
    }
  });
});

describe('cloudflared key pinning and updates (tunnel mode)', () => {
  const setup = () => entry(rendered.tunnel!.cfg, '/usr/local/lib/crawl4ai-mcp/network-setup.sh').content;
  /** key_fingerprints_ok from the rendered script, run in bash with `gpg` answering `gpgOutput`. */
  const check = (gpgOutput: string) => {
    const fn = /^key_fingerprints_ok\(\) \{\n[\s\S]*?\n\}$/m.exec(setup())?.[0];
    const pins = /^CLOUDFLARE_APT_KEY_FINGERPRINTS=.*$/m.exec(setup())?.[0];
    expect(fn).toBeDefined();
    const fake = write('gpg/output', gpgOutput);
    return run('bash', ['-c', `set -euo pipefail\n${pins}\n${fn}\ngpg() { cat "$FAKE"; }\nkey_fingerprints_ok /tmp/key.gpg && echo accepted`], { ...process.env, FAKE: fake });
  };
  const key = (fpr: string, sub = 'AAAABBBBCCCCDDDDEEEEFFFF0000111122223333') =>
    `pub:-:4096:1:${fpr.slice(-16)}:1700000000:::-:::scESC::::::23::0:\nfpr:::::::::${fpr}:\n` +
    `uid:-::::1700000000::0000::Cloudflare Software Packaging <help@cloudflare.com>::::::::::0:\n` +
    `sub:-:4096:1:${sub.slice(-16)}:1700000000::::::e::::::23:\nfpr:::::::::${sub}:\n`;

  it('accepts the pinned 2025 key (its subkeys do not matter)', () => {
    const r = check(key(CLOUDFLARE_KEY_2025));
    expect(r.stdout).toBe('accepted\n');
    expect(r.code).toBe(0);
  });

  it.each([
    ['the older key with a SHA-1 binding', key(CLOUDFLARE_KEY_SHA1)],
    ['a stranger key', key('0123456789ABCDEF0123456789ABCDEF01234567')],
    ['the pinned key plus a stranger (apt would trust both)', key(CLOUDFLARE_KEY_2025) + key('0123456789ABCDEF0123456789ABCDEF01234567')],
  ])('refuses %s', (_what, output) => {
    const r = check(output);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^key [0-9A-F]{40} is not one of the accepted CC94B39C77AE7342A68B89628A682D308D4E5E73$/m);
  });

  it('refuses a file with no public key', () => {
    const r = check('');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no OpenPGP public key');
  });

  it('lets unattended-upgrades update cloudflared from pkg.cloudflare.com and restarts the connector when the binary changes', () => {
    const cfg = rendered.tunnel!.cfg;
    const conf = entry(cfg, '/etc/apt/apt.conf.d/52crawl4ai-mcp-cloudflared');
    expect([conf.owner, conf.permissions]).toEqual(['root:root', '0644']);
    expect(conf.content).toBe('Unattended-Upgrade::Origins-Pattern {\n  "site=pkg.cloudflare.com";\n};\n');
    // the repository's own line names the same site
    expect(setup()).toMatch(/https:\/\/pkg\.cloudflare\.com\/cloudflared any main/);
    const path_ = entry(cfg, '/etc/systemd/system/cloudflared-crawl4ai-update.path').content;
    expect(path_).toMatch(/^PathChanged=\/usr\/bin\/cloudflared$/m);
    const service = entry(cfg, '/etc/systemd/system/cloudflared-crawl4ai-update.service').content;
    expect(service).toMatch(/^ExecStart=\/usr\/bin\/systemctl try-restart cloudflared-crawl4ai\.service$/m);
    expect(setup()).toMatch(/^systemctl enable --now cloudflared-crawl4ai-update\.path$/m);
    // public mode has no cloudflared, so none of this
    expect(rendered.public!.cfg.write_files.map((f) => f.path).filter((p) => /cloudflared/.test(p))).toEqual([]);
  });
});

describe('the image the VM runs (crawl4ai-run.sh -> serial console -> status)', () => {
  const D1 = `sha256:${'1'.repeat(64)}`;
  const D2 = `sha256:${'2'.repeat(64)}`;

  it('crawl4ai-run.sh prints the image and its digest to /dev/console before each start, never failing the start', () => {
    const run_ = renderBootstrapFile(TUNNEL, 'crawl4ai-run.sh');
    expect(run_).toContain(`digest=$(docker image inspect --format '{{index .RepoDigests 0}}' "$CRAWL4AI_IMAGE" 2>/dev/null || true)`);
    expect(run_).toContain('echo "crawl4ai-mcp: image $CRAWL4AI_IMAGE digest ${digest##*@}" >/dev/console 2>/dev/null || true');
    expect(run_.indexOf('>/dev/console')).toBeLessThan(run_.indexOf('exec /usr/bin/docker run'));
  });

  it('the line, as bash prints it, is what status parses (the latest start wins)', () => {
    // the two lines of crawl4ai-run.sh, with docker answering and the console a file
    const line = (repoDigest: string) => {
      const script = renderBootstrapFile(TUNNEL, 'crawl4ai-run.sh')
        .split('\n')
        .filter((l) => l.startsWith('digest=') || l.startsWith('[ -n "$digest" ]') || l.startsWith('echo "crawl4ai-mcp: image'))
        .join('\n')
        .replace('>/dev/console', '>>"$CONSOLE"');
      const consoleFile = path.join(dir, 'console.txt');
      fs.rmSync(consoleFile, { force: true });
      const r = run('bash', ['-c', `set -euo pipefail\nCRAWL4AI_IMAGE=${CRAWL4AI_IMAGE}\ndocker() { [ -n "$DIGEST" ] && echo "$DIGEST"; }\n${script}`], { ...process.env, CONSOLE: consoleFile, DIGEST: repoDigest });
      expect(r.code, r.out).toBe(0);
      return fs.readFileSync(consoleFile, 'utf8');
    };
    const first = line(`unclecode/crawl4ai@${D1}`);
    expect(first).toBe(`crawl4ai-mcp: image ${CRAWL4AI_IMAGE} digest ${D1}\n`);
    const console_ = `[    1.0] Linux version ...\r\n[   40.1] ${first.trimEnd()}\r\ncloud-init ...\r\n[   12.3] ${line(`unclecode/crawl4ai@${D2}`).trimEnd()}\r\n`;
    expect(runningImageFromConsole(console_)).toBe(`${CRAWL4AI_IMAGE}@${D2}`);
    expect(line('')).toBe(`crawl4ai-mcp: image ${CRAWL4AI_IMAGE} digest unknown\n`);
    expect(runningImageFromConsole(line(''))).toBeUndefined();
    expect(runningImageFromConsole('')).toBeUndefined();
    expect(runningImageFromConsole(`crawl4ai-mcp: image repo@${D1} digest ${D2}`)).toBe(`repo@${D2}`);
  });

  it('pins Crawl4AI 0.9.4 (0.9.3 fixed the IPv6 start failure, 0.9.4 closed SSRF paths and an env leak)', () => {
    expect(CRAWL4AI_IMAGE).toBe('unclecode/crawl4ai:0.9.4');
  });
});

describe('shell helpers (lib.sh)', () => {
  const lib = () => write('lib/lib.sh', renderBootstrapFile(TUNNEL, 'lib.sh'), 0o644);
  // bash with lib.sh sourced and `sleep` recorded instead of slept
  const bash = (body: string) => run('bash', ['-c', `set -euo pipefail\n. "$1"\nsleep() { echo "slept $1"; }\n${body}`, 'bash', lib()]);

  it('log prints a UTC timestamp and the crawl4ai-mcp prefix; die logs ERROR and exits 1', () => {
    expect(bash('log "hello  world"').stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ crawl4ai-mcp: hello  world\n$/);
    const r = bash('die "no luck"; echo after');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^\S+Z crawl4ai-mcp: ERROR: no luck\n$/);
  });

  it('retry waits 10 s, 20 s, ... between attempts, logs each wait and gives up after ATTEMPTS', () => {
    const failing = bash('retry 3 false || echo "gave up $?"');
    expect(failing.code).toBe(0);
    expect(failing.stdout.replace(/^\S+Z /gm, '')).toBe(
      'crawl4ai-mcp: retrying in 10 s: false\nslept 10\ncrawl4ai-mcp: retrying in 20 s: false\nslept 20\ngave up 1\n',
    );
    // succeeds on the second attempt: one wait, then the command's status 0
    const flaky = bash('f=$(mktemp); trap \'rm -f "$f"\' EXIT; once() { [ -s "$f" ] || { echo x >"$f"; return 1; }; }; retry 5 once && echo ok');
    expect(flaky.stdout.replace(/^\S+Z /gm, '')).toBe('crawl4ai-mcp: retrying in 10 s: once\nslept 10\nok\n');
  });
});

describe('inputs', () => {
  it('derives hostnames and memory limits', () => {
    expect(hostnameForIp('203.0.113.7', 'sslip.io')).toBe('203-0-113-7.sslip.io');
    expect(hostnameForIp('198.51.100.20', 'nip.io')).toBe('198-51-100-20.nip.io');
    expect(() => hostnameForIp('2001:db8::1', 'sslip.io')).toThrow(/IPv4/);
    expect(() => hostnameForIp('203.0.113.7', 'example.com' as 'nip.io')).toThrow();
    expect([4, 8, 16, 32].map(memoryLimitFor)).toEqual(['3g', '7g', '14g', '28g']);
    expect(() => memoryLimitFor(2)).toThrow(/4 GiB/);
  });

  it('the VM re-derives the memory limit with the same rule after a resize', () => {
    // Run the rule from crawl4ai-run.sh (the lines between host_gib= and the closing fi) with bash.
    const script = renderBootstrapFile(TUNNEL, 'crawl4ai-run.sh');
    const rule = script.slice(script.indexOf('  reserve='), script.indexOf('  echo "host has'));
    for (const gib of [4, 8, 16, 32]) {
      const r = run('bash', ['-c', `set -e; host_gib=${gib}\n${rule}\necho "$limit"`]);
      expect(r.stdout.trim()).toBe(memoryLimitFor(gib));
    }
  });

  it('rejects unpinned images, bad names and missing mode inputs', () => {
    expect(() => renderCloudInit({ ...TUNNEL, crawl4aiImage: 'unclecode/crawl4ai:latest' })).toThrow(CliError);
    expect(() => renderCloudInit({ ...TUNNEL, crawl4aiImage: 'unclecode/crawl4ai' })).toThrow(/invalid Crawl4AI image/);
    expect(renderCloudInit({ ...TUNNEL, crawl4aiImage: `unclecode/crawl4ai@sha256:${'a'.repeat(64)}` })).toContain('@sha256:');
    expect(() => renderCloudInit({ ...TUNNEL, deployment: 'Bad Name' })).toThrow();
    expect(() => renderCloudInit({ ...TUNNEL, memoryLimit: '3 GB' })).toThrow();
    expect(() => renderCloudInit({ ...TUNNEL, tunnelToken: undefined })).toThrow(/tunnel/);
    expect(() => renderCloudInit({ ...PUBLIC, hostname: undefined })).toThrow(/hostname/);
    expect(() => renderCloudInit({ ...PUBLIC, hostname: '203.0.113.7' })).toThrow(CliError);
    expect(() => renderCloudInit({ ...PUBLIC, hostname: 'bad_host.example.com' })).toThrow(CliError);
    expect(() => renderCloudInit({ ...PUBLIC, acmeEmail: 'not an email' })).toThrow(CliError);
    expect(() => renderCaddyfile(TUNNEL)).toThrow(/public/);
  });

  it('never puts a secret in an error message', () => {
    const badToken = 'has space ' + C4AI_TOKEN;
    const badTunnel = TUNNEL_TOKEN + '"$(id)"';
    for (const input of [{ ...TUNNEL, crawl4aiToken: badToken }, { ...TUNNEL, tunnelToken: badTunnel }]) {
      let message = '';
      try {
        renderCloudInit(input);
      } catch (e) {
        message = String((e as Error).message) + String((e as CliError).hint ?? '');
      }
      expect(message).not.toBe('');
      expect(message).not.toContain('c4aiSECRET');
      expect(message).not.toContain(TUNNEL_TOKEN.slice(0, 30));
    }
  });
});

describe('secret-free user data with the idle setting (scale --idle-stop)', () => {
  itWith([CLOUD_INIT])('is valid cloud-config whose bootcmd rewrites IDLE_STOP_MINUTES in settings.env at each boot', () => {
    const text = secretFreeUserData(30);
    const file = path.join(os.tmpdir(), `c4m-secret-free-${process.pid}.yaml`);
    fs.writeFileSync(file, text);
    try {
      const r = run('cloud-init', ['schema', '--config-file', file]);
      expect(r.out).toContain('Valid cloud-config');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('the bootcmd really rewrites the setting (run with sh on a copy of settings.env)', () => {
    const cfg = parseYamlText(secretFreeUserData(45), { version: '1.1' }) as CloudConfig;
    expect(Object.keys(cfg).sort()).toEqual(['bootcmd']);
    const [cmd] = cfg.bootcmd as string[][];
    const settings = path.join(os.tmpdir(), `c4m-settings-${process.pid}.env`);
    fs.writeFileSync(settings, 'CRAWL4AI_NETWORK=tunnel\nIDLE_STOP_MINUTES=60\n');
    try {
      const r = spawnSync(cmd![0]!, [...cmd!.slice(1, -1), settings], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(fs.readFileSync(settings, 'utf8')).toBe('CRAWL4AI_NETWORK=tunnel\nIDLE_STOP_MINUTES=45\n');
    } finally {
      fs.rmSync(settings, { force: true });
    }
    expect(cmd!.at(-1)).toBe('/etc/crawl4ai/settings.env');
    expect(() => secretFreeUserData(-1)).toThrow();
  });
});

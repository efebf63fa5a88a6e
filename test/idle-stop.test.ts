// The idle watchdog (templates/cloud-init/idle-stop.sh) run under bash as the VM runs it each
// minute, with a fake clock (`date`), fake `ss` and `systemctl` on PATH, and a real HTTP server
// standing in for Crawl4AI's /metrics and /monitor/health (Bearer token checked). It must stop the
// VM after the idle period, never while a request is in flight or a job keeps Crawl4AI busy, and
// restart its clock on every crawl request (but not on health checks).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderBootstrapFile } from '../src/bootstrap/cloud-init.js';
import { describeIdleStop, idleStopFor, parseIdleStop } from '../src/bootstrap/idle-stop.js';

const TOKEN = 'f'.repeat(64);
const SCRIPT = renderBootstrapFile(
  { deployment: 'idle', network: 'tunnel', crawl4aiImage: 'unclecode/crawl4ai:0.9.4', crawl4aiToken: TOKEN, memoryLimit: '3g', tunnelToken: 'e'.repeat(64), idleStopMinutes: 60 },
  'idle-stop.sh',
);

/** What the fake Crawl4AI answers; requests without the token get 401 like the real one. */
const crawl4ai = { crawls: 0, healthChecks: 0, cpu: 1.5, up: true, unauthorized: 0 };
let server: http.Server;
let url: string;
let dir: string;
let bin: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (!crawl4ai.up) return void res.destroy();
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      crawl4ai.unauthorized++;
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"detail":"Authentication required"}');
      return;
    }
    if (req.url === '/metrics') {
      // the shape prometheus-fastapi-instrumentator gives: one series per handler
      res.writeHead(200, { 'content-type': 'text/plain' }).end(
        [
          '# HELP http_requests_total Total number of requests by method, status and handler.',
          '# TYPE http_requests_total counter',
          `http_requests_total{handler="/crawl",method="POST",status="2xx"} ${crawl4ai.crawls}.0`,
          `http_requests_total{handler="/health",method="GET",status="2xx"} ${crawl4ai.healthChecks}.0`,
          `http_requests_total{handler="/monitor/health",method="GET",status="2xx"} ${crawl4ai.healthChecks}.0`,
          '',
        ].join('\n'),
      );
      return;
    }
    if (req.url === '/monitor/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ container: { memory_percent: 20.1, cpu_percent: crawl4ai.cpu, network_sent_mb: 1, network_recv_mb: 2, uptime_seconds: 60 } }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-idle-'));
  bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  // fake clock, connection table and init system; everything else (curl, awk, sed) is real
  fs.writeFileSync(path.join(bin, 'date'), `#!/bin/sh\ncat "${dir}/now"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'ss'), `#!/bin/sh\necho "$*" >>"${dir}/ss-args"\ncat "${dir}/connections" 2>/dev/null\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >>"${dir}/systemctl"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'script.sh'), SCRIPT, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'crawl4ai.env'), `CRAWL4AI_API_TOKEN=${TOKEN}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

let minutes = 60;
beforeEach(() => {
  Object.assign(crawl4ai, { crawls: 0, healthChecks: 0, cpu: 1.5, up: true, unauthorized: 0 });
  for (const f of ['state', 'systemctl', 'connections', 'ss-args']) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  minutes = 60;
});

/** One timer run at minute `t` of the fake clock; returns whether it powered the VM off. */
async function runAt(t: number): Promise<boolean> {
  fs.writeFileSync(path.join(dir, 'now'), String(1_800_000_000 + t * 60));
  fs.writeFileSync(
    path.join(dir, 'settings.env'),
    `IDLE_STOP_MINUTES=${minutes}\nCRAWL4AI_URL=${url}\nCRAWL4AI_ENV_FILE=${dir}/crawl4ai.env\nSTATE_DIR=${dir}/state\n`,
  );
  const before = fs.existsSync(path.join(dir, 'systemctl')) ? fs.readFileSync(path.join(dir, 'systemctl'), 'utf8') : '';
  // asynchronously: the fake Crawl4AI answers from this process's event loop
  const r = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
    execFile('bash', [path.join(dir, 'script.sh')], { env: { PATH: `${bin}:/usr/bin:/bin`, IDLE_STOP_CONFIG: path.join(dir, 'settings.env') } }, (e, stdout, stderr) =>
      resolve({ status: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
  expect(r.status, r.stderr).toBe(0);
  const after = fs.existsSync(path.join(dir, 'systemctl')) ? fs.readFileSync(path.join(dir, 'systemctl'), 'utf8') : '';
  const off = after.slice(before.length).includes('poweroff');
  if (off) expect(r.stdout).toMatch(/crawl4ai-mcp: idle \d+ min: powering off/);
  return off;
}

describe('idle-stop.sh', () => {
  it('powers off after the idle period, not a minute before', async () => {
    expect(await runAt(0)).toBe(false); // first run after boot: the boot itself counts as activity
    expect(await runAt(30)).toBe(false);
    expect(await runAt(59)).toBe(false);
    expect(await runAt(60)).toBe(true);
    expect(crawl4ai.unauthorized).toBe(0); // the token from the 0600 env file was sent
  });

  it('each crawl request restarts the clock; health checks and status do not', async () => {
    await runAt(0);
    crawl4ai.crawls = 1;
    expect(await runAt(50)).toBe(false);
    crawl4ai.healthChecks = 7; // `status` and the health tool: not work
    expect(await runAt(100)).toBe(false);
    expect(await runAt(109)).toBe(false);
    expect(await runAt(110)).toBe(true);
  });

  it('never while a request is in flight, however long it runs', async () => {
    await runAt(0);
    fs.writeFileSync(path.join(dir, 'connections'), '0 0 127.0.0.1:41234 127.0.0.1:11235\n');
    expect(await runAt(60)).toBe(false);
    expect(await runAt(130)).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'ss-args'), 'utf8')).toContain(`dport = :${new URL(url).port}`);
    fs.rmSync(path.join(dir, 'connections'));
    expect(await runAt(189)).toBe(false); // the clock restarted when the request was last seen (minute 130)
    expect(await runAt(190)).toBe(true);
  });

  it('never while a background job keeps Crawl4AI busy (its own cpu_percent)', async () => {
    await runAt(0);
    crawl4ai.cpu = 85.2;
    expect(await runAt(60)).toBe(false);
    expect(await runAt(90)).toBe(false);
    crawl4ai.cpu = 0.4;
    expect(await runAt(149)).toBe(false);
    expect(await runAt(150)).toBe(true);
  });

  it('a Crawl4AI restart (its counter went back) counts as activity; a Crawl4AI that does not answer does not', async () => {
    crawl4ai.crawls = 40;
    await runAt(0);
    crawl4ai.crawls = 2;
    expect(await runAt(55)).toBe(false);
    crawl4ai.up = false;
    expect(await runAt(114)).toBe(false);
    expect(await runAt(115)).toBe(true); // a broken VM stops too: nothing there to keep running for
  });

  it('does nothing when off (0)', async () => {
    minutes = 0;
    await runAt(0);
    expect(await runAt(10_000)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'state'))).toBe(false);
  });
});

describe('--idle-stop values', () => {
  it('parses minutes and hours, off, and refuses what is too short, too long or not a duration', () => {
    expect(parseIdleStop('45m')).toBe(45);
    expect(parseIdleStop('2h')).toBe(120);
    expect(parseIdleStop('off')).toBe(0);
    for (const bad of ['5m', '8d', '30', 'soon', '-1h', '169h']) expect(() => parseIdleStop(bad), bad).toThrow(/invalid --idle-stop/);
    expect(describeIdleStop(60)).toBe('1 h');
    expect(describeIdleStop(45)).toBe('45 min');
  });

  it('defaults to 60 min on AWS, GCP and Azure (where the VM deallocates itself)', () => {
    expect(idleStopFor('aws', undefined)).toBe(60);
    expect(idleStopFor('gcp', '30m')).toBe(30);
    expect(idleStopFor('azure', undefined)).toBe(60);
    expect(idleStopFor('azure', 'off')).toBe(0);
    expect(idleStopFor('azure', '30m')).toBe(30);
  });
});

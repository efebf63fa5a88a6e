import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from '../src/ground/errors.js';
import { registerSecret } from '../src/ground/redact.js';
import { Journal } from '../src/state/journal.js';
import { removeStaleLock, withDeploymentLock } from '../src/state/lock.js';
import { DeploymentState, newDeploymentState } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const fixtures = path.join(here, 'fixtures', 'state');

// Child processes run src/state bundled by esbuild (fixtures cannot import .ts, and dist/ may be
// broken while the rest of the tree is being edited).
let bundleDir: string;
let bundle: string;
beforeAll(async () => {
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-state-bundle-'));
  bundle = path.join(bundleDir, 'state.mjs');
  await build({
    entryPoints: [path.join(repo, 'src/state/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: bundle,
    logLevel: 'error',
  });
});
afterAll(() => {
  fs.rmSync(bundleDir, { recursive: true, force: true });
});

let dir: string;
let store: StateStore;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-state-')), 'deployments');
  store = new StateStore(dir);
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

function spawnFixture(script: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [path.join(fixtures, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.split('\n').includes(line)) resolve();
    });
    child.once('exit', (code, sig) => reject(new Error(`child exited (${code ?? sig}) before "${line}": ${err}`)));
  });
}

function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await waitForExit(child);
  return child.pid!;
}

async function catchError(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe('StateStore', () => {
  it('round-trips a state, with a 0600 file in a 0700 dir, and bumps updatedAt', async () => {
    expect(await store.read('alpha')).toBeNull();
    expect(await store.list()).toEqual([]);

    const state = newDeploymentState('alpha', new Date('2020-01-01T00:00:00Z'));
    state.provider = 'aws';
    state.region = 'eu-west-1';
    state.outputs = { publicIp: '203.0.113.7', port: 11235, tunnel: true, hostname: null };
    await store.write(state);

    const file = store.path('alpha');
    expect(file).toBe(path.join(dir, 'alpha.json'));
    expect(mode(file)).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
    expect(state.updatedAt).not.toBe('2020-01-01T00:00:00.000Z');

    const back = await store.read('alpha');
    expect(back).toEqual(state);
    expect(await store.require('alpha')).toEqual(state);
    expect(await store.list()).toEqual(['alpha']);

    const first = back!.updatedAt;
    back!.status = 'ready';
    await store.write(back!); // same millisecond is possible: updatedAt must still move forward
    const again = await store.read('alpha');
    expect(again!.status).toBe('ready');
    expect(Date.parse(again!.updatedAt)).toBeGreaterThan(Date.parse(first));

    await store.write(newDeploymentState('beta'));
    expect(await store.list()).toEqual(['alpha', 'beta']);
    await store.remove('alpha');
    await store.remove('alpha'); // idempotent
    expect(await store.list()).toEqual(['beta']);
    expect(await store.read('alpha')).toBeNull();
  });

  it('require() on a missing deployment is exit 5 with an init hint', async () => {
    const e = await catchError(store.require('nope'));
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(5);
    expect((e as CliError).message).toBe('no deployment named nope');
    expect((e as CliError).hint).toBe('run crawl4ai-mcp init --name nope');
  });

  it('rejects names that are not deployment names (no path tricks)', () => {
    for (const bad of ['../etc/passwd', 'UPPER', '', 'a/b', 'x'.repeat(33)]) {
      expect(() => store.path(bad)).toThrow(CliError);
    }
  });

  it('survives kill -9 at random moments during writes', async () => {
    const file = store.path('big');
    let maxCounter = -1;
    for (let i = 0; i < 8; i++) {
      const child = spawnFixture('writer.mjs', [bundle, dir, 'big']);
      // Let it complete a few writes, then kill it somewhere inside the next one(s): a write takes
      // ~5-20 ms (900 KB + fsync), so a random delay of up to 15 ms lands at any point of it.
      const after = i % 4;
      await waitForLine(child, `wrote ${after}`);
      await sleep(Math.random() * 15);
      child.kill('SIGKILL');
      await waitForExit(child);

      // The file parses and validates every time, and is exactly one writer's complete snapshot.
      const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
      const parsed = DeploymentState.parse(raw);
      expect(parsed.resources).toHaveLength(400);
      expect(parsed.outputs.writer).toBe(child.pid);
      expect(typeof parsed.outputs.counter).toBe('number');
      expect(parsed.outputs.counter).toBeGreaterThanOrEqual(after);
      maxCounter = Math.max(maxCounter, parsed.outputs.counter as number);
      expect((await store.read('big'))!.outputs).toEqual(parsed.outputs);
      expect(mode(file)).toBe(0o600);
      // Temp files a killed writer left behind are never listed as deployments.
      expect(await store.list()).toEqual(['big']);
    }
    expect(maxCounter).toBeGreaterThanOrEqual(3);

    // The next write sweeps temp files of dead writers.
    const s = (await store.read('big'))!;
    await store.write(s);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  describe('refuses broken files with an error naming the file', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['garbage', '\u0000\u0001 not json {', /is not valid JSON/],
      ['truncated JSON', '{"schemaVersion": 1, "tool": "crawl4ai-mcp", "na', /is not valid JSON/],
      ['foreign JSON', JSON.stringify({ name: 'x', hello: 'world' }), /is not a crawl4ai-mcp state file/],
      ['a JSON array', '[1,2,3]', /is not a crawl4ai-mcp state file/],
      ['JSON null', 'null', /is not a crawl4ai-mcp state file/],
      [
        'a newer schema',
        JSON.stringify({ ...newDeploymentState('broken'), schemaVersion: 2, futureField: {} }),
        /was written by a newer crawl4ai-mcp \(schema 2\)/,
      ],
      [
        'invalid fields',
        JSON.stringify({ ...newDeploymentState('broken'), status: 'exploded' }),
        /is not a valid crawl4ai-mcp state file: status/,
      ],
      ['another deployment', JSON.stringify(newDeploymentState('other')), /describes deployment "other"/],
    ];
    for (const [what, content, re] of cases) {
      it(what, async () => {
        fs.mkdirSync(dir, { recursive: true });
        const file = store.path('broken');
        fs.writeFileSync(file, content);
        for (const op of [() => store.read('broken'), () => store.require('broken')]) {
          const e = await catchError(op());
          expect(e).toBeInstanceOf(CliError);
          expect((e as CliError).exitCode).toBe(1);
          expect((e as CliError).message).toContain(file);
          expect((e as CliError).message).toMatch(re);
          expect((e as CliError).hint).toMatch(/move it aside|upgrade|rename/);
        }
        // list() still works; the file is left alone.
        expect(await store.list()).toEqual(['broken']);
        expect(fs.readFileSync(file, 'utf8')).toBe(content);
      });
    }
  });

  it('refuses to write a known secret and leaves the file unchanged', async () => {
    const state = newDeploymentState('secretive');
    state.outputs = { url: 'https://example.test' };
    await store.write(state);
    const before = fs.readFileSync(store.path('secretive'), 'utf8');
    const updatedAt = state.updatedAt;

    registerSecret('s3cr3t-value');
    state.outputs = { url: 'https://example.test', leaked: 'token=s3cr3t-value' };
    const e = await catchError(store.write(state));
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).message).toContain('outputs.leaked');
    expect((e as CliError).message).not.toContain('s3cr3t-value');
    expect(fs.readFileSync(store.path('secretive'), 'utf8')).toBe(before);
    expect(state.updatedAt).toBe(updatedAt);

    // Also nested in resource meta, and in its base64 form.
    state.outputs = {};
    state.resources = [
      {
        key: 'k',
        kind: 'test',
        phase: 'created',
        meta: { b: Buffer.from('s3cr3t-value').toString('base64') },
        createdAt: updatedAt,
        updatedAt,
      },
    ];
    await expect(store.write(state)).rejects.toThrow(/resources\[0\]\.meta\.b contains a secret/);
    expect(fs.readFileSync(store.path('secretive'), 'utf8')).toBe(before);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses to write an invalid state', async () => {
    const state = { ...newDeploymentState('inval'), status: 'bogus' } as unknown as DeploymentState;
    await expect(store.write(state)).rejects.toThrow(/refusing to write invalid state/);
    expect(await store.read('inval')).toBeNull();
  });

  it('concurrent writes from one process land in call order', async () => {
    const s = newDeploymentState('order');
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      s.outputs = { i };
      writes.push(store.write(s));
    }
    await Promise.all(writes);
    expect((await store.read('order'))!.outputs).toEqual({ i: 19 });
  });
});

describe('withDeploymentLock', () => {
  it('is exclusive between processes, names the holder, and is free once it exits', async () => {
    const holder = spawnFixture('hold-lock.mjs', [bundle, dir, 'shared', 'up']);
    await waitForLine(holder, 'locked');
    const lockFile = path.join(dir, 'shared.lock');
    const info = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
    expect(info).toMatchObject({ pid: holder.pid, hostname: os.hostname(), command: 'up' });
    expect(mode(lockFile)).toBe(0o600);

    let ran = false;
    const e = await catchError(withDeploymentLock(dir, 'shared', 'destroy', async () => void (ran = true)));
    expect(ran).toBe(false);
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(6);
    expect((e as CliError).message).toBe(
      `deployment shared is busy: \`up\` (pid ${holder.pid}) started at ${info.startedAt}`,
    );
    expect((e as CliError).hint).toBe(`wait for it to finish; if that process is gone, delete ${lockFile}`);
    expect(fs.existsSync(lockFile)).toBe(true); // the loser did not touch it

    // Other deployments are not blocked.
    expect(await withDeploymentLock(dir, 'other', 'status', async () => 'ok')).toBe('ok');

    holder.stdin!.write('go\n');
    expect(await waitForExit(holder)).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(lockFile)).toBe(false);
    expect(await withDeploymentLock(dir, 'shared', 'destroy', async () => 42)).toBe(42);
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('is released when the holder is sent SIGTERM', async () => {
    const holder = spawnFixture('hold-lock.mjs', [bundle, dir, 'term', 'up']);
    await waitForLine(holder, 'locked');
    holder.kill('SIGTERM');
    expect(await waitForExit(holder)).toEqual({ code: 143, signal: null });
    expect(fs.existsSync(path.join(dir, 'term.lock'))).toBe(false);
  });

  it('is released on process.exit from the CLI\'s own SIGINT handler', async () => {
    const holder = spawnFixture('hold-lock.mjs', [bundle, dir, 'intr', 'up', 'own-sigint']);
    await waitForLine(holder, 'locked');
    holder.kill('SIGINT');
    expect(await waitForExit(holder)).toEqual({ code: 130, signal: null });
    expect(fs.existsSync(path.join(dir, 'intr.lock'))).toBe(false);
  });

  it('recovers a stale lock left by a dead process', async () => {
    fs.mkdirSync(dir, { recursive: true });
    const lockFile = path.join(dir, 'stale.lock');
    const pid = await deadPid();
    fs.writeFileSync(
      lockFile,
      JSON.stringify({ pid, hostname: os.hostname(), command: 'up', startedAt: new Date().toISOString() }),
    );
    const seen = await withDeploymentLock(dir, 'stale', 'destroy', async () =>
      JSON.parse(fs.readFileSync(lockFile, 'utf8')),
    );
    expect(seen).toMatchObject({ pid: process.pid, command: 'destroy' });
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('never removes a fresh lock that took the stale one\'s place, even under the same inode number', async () => {
    fs.mkdirSync(dir, { recursive: true });
    const lockFile = path.join(dir, 'reuse.lock');
    const stale = JSON.stringify({ pid: await deadPid(), hostname: os.hostname(), command: 'up', startedAt: new Date().toISOString(), token: 'a'.repeat(32) });
    fs.writeFileSync(lockFile, stale);
    const ino = fs.statSync(lockFile).ino;
    // Between our verdict "stale" and our unlink, another process removed it and took the lock;
    // ext4 gave its new file the freed inode number. Written in place here, so the number is surely the same.
    const fresh = JSON.stringify({ pid: process.pid, hostname: os.hostname(), command: 'destroy', startedAt: new Date().toISOString(), token: 'b'.repeat(32) });
    fs.writeFileSync(lockFile, fresh);
    expect(fs.statSync(lockFile).ino).toBe(ino);
    expect(await removeStaleLock(lockFile, stale)).toBe(false);
    expect(fs.readFileSync(lockFile, 'utf8')).toBe(fresh);
    expect(await removeStaleLock(lockFile, fresh)).toBe(true);
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('lets exactly one of many processes take over a stale lock at once (ext4 reuses inode numbers)', async () => {
    fs.mkdirSync(dir, { recursive: true });
    const lockFile = path.join(dir, 'race.lock');
    const log = path.join(dir, 'race.log');
    for (let round = 0; round < 6; round++) {
      fs.writeFileSync(lockFile, JSON.stringify({ pid: await deadPid(), hostname: os.hostname(), command: 'up', startedAt: new Date().toISOString(), token: 'f'.repeat(32) }));
      fs.writeFileSync(log, '');
      const startAt = Date.now() + 400;
      const racers = Array.from({ length: 8 }, () => spawnFixture('race-lock.mjs', [bundle, dir, 'race', log, String(startAt)]));
      const outcomes = await Promise.all(
        racers.map(async (c) => {
          let out = '';
          c.stdout!.on('data', (d) => (out += d));
          await waitForExit(c);
          return out.trim();
        }),
      );
      expect(outcomes.every((o) => o === 'held' || o === 'busy'), outcomes.join(',')).toBe(true);
      // Every "in" is followed by its own "out" before anyone else's "in": never two holders.
      const events = fs.readFileSync(log, 'utf8').trim().split('\n');
      for (let i = 0; i < events.length; i += 2) {
        expect(events[i]!.startsWith('in '), events.join(' | ')).toBe(true);
        expect(events[i + 1], events.join(' | ')).toBe(events[i]!.replace('in ', 'out '));
      }
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(fs.existsSync(lockFile)).toBe(false);
      expect(fs.existsSync(`${lockFile}.takeover`)).toBe(false);
    }
  }, 60_000);

  it('treats a fresh unreadable lock as busy and an old one as stale', async () => {
    fs.mkdirSync(dir, { recursive: true });
    const lockFile = path.join(dir, 'junk.lock');
    fs.writeFileSync(lockFile, 'garbage');
    const e = await catchError(withDeploymentLock(dir, 'junk', 'up', async () => 1));
    expect((e as CliError).exitCode).toBe(6);
    expect((e as CliError).message).toContain(lockFile);

    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(lockFile, old, old);
    expect(await withDeploymentLock(dir, 'junk', 'up', async () => 1)).toBe(1);
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('is released when fn throws, and is not re-entrant', async () => {
    const lockFile = path.join(dir, 'boom.lock');
    await expect(
      withDeploymentLock(dir, 'boom', 'up', async () => {
        expect(fs.existsSync(lockFile)).toBe(true);
        // A nested attempt in the same process is a conflict, not a deadlock.
        const inner = await catchError(withDeploymentLock(dir, 'boom', 'down', async () => 0));
        expect((inner as CliError).exitCode).toBe(6);
        expect((inner as CliError).message).toContain(`(pid ${process.pid})`);
        throw new Error('kaboom');
      }),
    ).rejects.toThrow('kaboom');
    expect(fs.existsSync(lockFile)).toBe(false);
    expect(await withDeploymentLock(dir, 'boom', 'up', async () => 'again')).toBe('again');
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });
});

describe('Journal', () => {
  it('persists intent before and created after, keeps the token on resume, orders live()', async () => {
    const state = newDeploymentState('jrnl');
    await store.write(state);
    const j = new Journal(store, state);

    const sg = await j.intend('aws:security-group', 'aws:security-group', { region: 'eu-west-1', token: 'tok-sg' });
    expect(sg).toMatchObject({ phase: 'intent', token: 'tok-sg', region: 'eu-west-1' });
    // On disk before any cloud call would have answered.
    let disk = (await store.read('jrnl'))!;
    expect(disk.resources).toEqual([expect.objectContaining({ key: 'aws:security-group', phase: 'intent', token: 'tok-sg' })]);

    // A crash here; a new process resumes from disk and re-intends: same token.
    const j2 = new Journal(store, (await store.read('jrnl'))!);
    const again = await j2.intend('aws:security-group', 'aws:security-group', { token: 'different' });
    expect(again.token).toBe('tok-sg');
    await j2.created('aws:security-group', 'sg-123', { vpc: 'vpc-1' });
    disk = (await store.read('jrnl'))!;
    expect(disk.resources[0]).toMatchObject({ phase: 'created', id: 'sg-123', token: 'tok-sg', meta: { vpc: 'vpc-1' } });

    // Generated token when none is given.
    const inst = await j2.intend('aws:instance', 'aws:instance');
    expect(inst.token).toMatch(/^[0-9a-f-]{36}$/);
    await j2.created('aws:instance', 'i-1', { publicIp: '203.0.113.9' });
    await j2.intend('cloudflare:worker', 'cloudflare:worker');
    expect(j2.live().map((r) => r.key)).toEqual(['aws:security-group', 'aws:instance', 'cloudflare:worker']);

    // Intending an already created resource is a bug.
    await expect(j2.intend('aws:instance', 'aws:instance')).rejects.toThrow(/already created/);

    // Destroy walks backwards; deleted records are kept for history but are not live.
    await j2.deleting('aws:instance');
    expect((await store.read('jrnl'))!.resources[1]!.phase).toBe('deleting');
    expect(j2.live().map((r) => r.key)).toContain('aws:instance');
    await j2.deleted('aws:instance');
    disk = (await store.read('jrnl'))!;
    expect(disk.resources.map((r) => [r.key, r.phase])).toEqual([
      ['aws:security-group', 'created'],
      ['aws:instance', 'deleted'],
      ['cloudflare:worker', 'intent'],
    ]);
    expect(j2.live().map((r) => r.key)).toEqual(['aws:security-group', 'cloudflare:worker']);

    // Re-creating a deleted resource starts over: fresh token, end of the creation order.
    const re = await j2.intend('aws:instance', 'aws:instance');
    expect(re.token).not.toBe(inst.token);
    expect(re.id).toBeUndefined();
    expect(j2.live().map((r) => r.key)).toEqual(['aws:security-group', 'cloudflare:worker', 'aws:instance']);

    await j2.update({ status: 'ready', outputs: { url: 'https://w.example.workers.dev' } });
    disk = (await store.read('jrnl'))!;
    expect(disk.status).toBe('ready');
    expect(disk.outputs).toEqual({ url: 'https://w.example.workers.dev' });
    expect(disk).toEqual(j2.state);

    await expect(j2.created('nope', 'x')).rejects.toThrow(/no resource record nope/);
  });

  it('rolls back the in-memory state when a write is refused', async () => {
    const state = newDeploymentState('rollback');
    const j = new Journal(store, state);
    await j.intend('k', 'test:thing');
    registerSecret('another-s3cret');
    await expect(j.created('k', 'id-1', { password: 'another-s3cret' })).rejects.toThrow(/secret/);
    expect(j.find('k')).toMatchObject({ phase: 'intent' });
    expect(j.find('k')!.id).toBeUndefined();
    expect(j.state).toBe(state);
    expect((await store.read('rollback'))!).toEqual(j.state);
  });
});

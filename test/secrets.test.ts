import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { itWith, type SystemTool } from './helpers/system-tools.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cliRejection } from './helpers/outcome.js';
import { secretsFile } from '../src/ground/paths.js';
import { probeKeychain, setKeyringModuleForTests } from '../src/secrets/keychain.js';
import * as keys from '../src/secrets/keys.js';
import * as redactModule from '../src/ground/redact.js';
import * as store from '../src/secrets/store.js';
import { scenarios } from './fixtures/secrets/scenarios.mjs';

const { deploymentPrefix, deploymentSecret, profileSecret } = keys;
const { redact } = redactModule;
const { detectSecretBackend, openSecretStore, resetSecretStoreCaches } = store;

const FIXTURES = fileURLToPath(new URL('./fixtures/secrets/', import.meta.url));
const RUN = path.join(FIXTURES, 'run.mjs');
const PASSPHRASE = 'correct horse battery staple';

const tmpRoots: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-secrets-'));
  tmpRoots.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpRoots) fs.rmSync(dir, { recursive: true, force: true });
});

/** An environment for the file backend under a fresh CRAWL4AI_MCP_HOME. */
function fileEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { CRAWL4AI_MCP_HOME: tmpDir(), CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASSPHRASE, ...extra };
}


/** The parent's environment minus everything that could reach a real keychain or a display. */
function isolatedEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(DBUS_|DISPLAY$|WAYLAND_|XDG_|CRAWL4AI_MCP_|GNOME_KEYRING)/.test(k)) delete env[k];
  }
  return { ...env, ...extra };
}

interface ScenarioResult<T> {
  ok: boolean;
  value: T;
  error?: { message: string };
}

function runChild<T>(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ result: ScenarioResult<T>; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 45_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (err && !line.startsWith('{')) return reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      try {
        const result = JSON.parse(line) as ScenarioResult<T>;
        if (!result.ok) return reject(new Error(`scenario failed: ${JSON.stringify(result.error)}\n${stderr}`));
        resolve({ result, ms: Math.round(performance.now() - started) });
      } catch {
        reject(new Error(`no JSON from ${args.join(' ')}:\n${stdout}\n${stderr}`));
      }
    });
  });
}

beforeEach(() => {
  resetSecretStoreCaches();
});

// ---------------------------------------------------------------------------------------------------

describe('encrypted file backend', () => {
  it('round-trips values and keeps them across processes (fresh key derivation)', async () => {
    const env = fileEnv();
    const s = await openSecretStore({ env, interactive: false });
    expect(s.backend).toBe('file');
    expect(s.description).toBe(`encrypted file ${secretsFile(env)}`);
    expect(s.reason).toBe('CRAWL4AI_MCP_SECRET_BACKEND=file');

    const account = deploymentSecret('alpha', 'mcp-api-key');
    expect(await s.get(account)).toBeNull(); // no file yet: no passphrase needed, nothing created
    expect(fs.existsSync(secretsFile(env))).toBe(false);
    await s.set(account, 'c4m_first_value_123456');
    await s.set(account, 'c4m_second_value_654321');
    await s.set(deploymentSecret('alpha', 'crawl4ai-token'), 'token with spaces, ünïcode and "quotes"');
    expect(await s.get(account)).toBe('c4m_second_value_654321');

    resetSecretStoreCaches(); // as if a new process: derives the key again from the passphrase
    const reopened = await openSecretStore({ env, interactive: false });
    expect(await reopened.get(account)).toBe('c4m_second_value_654321');
    expect(await reopened.get(deploymentSecret('alpha', 'crawl4ai-token'))).toBe('token with spaces, ünïcode and "quotes"');
    expect(await reopened.get(deploymentSecret('alpha', 'tunnel-token'))).toBeNull();
  });

  it('rejects a wrong passphrase with a clear credentials error and leaves the file untouched', async () => {
    const env = fileEnv();
    await (await openSecretStore({ env, interactive: false })).set(deploymentSecret('alpha', 'mcp-api-key'), 'c4m_secret_value_abcdef');
    const before = fs.readFileSync(secretsFile(env));

    resetSecretStoreCaches();
    const wrong = await openSecretStore({ env: { ...env, CRAWL4AI_MCP_PASSPHRASE: 'not the passphrase' }, interactive: false });
    for (const op of [wrong.get(deploymentSecret('alpha', 'mcp-api-key')), wrong.set(deploymentSecret('alpha', 'x'), 'whatever-value')]) {
      const err = await cliRejection(op);
      expect(err.exitCode).toBe(3);
      expect(err.message).toBe(`wrong passphrase for ${secretsFile(env)}`);
      expect(err.hint).toBe('set CRAWL4AI_MCP_PASSPHRASE to the passphrase used when the file was created');
    }
    expect(fs.readFileSync(secretsFile(env)).equals(before)).toBe(true);
  });

  it.runIf(process.platform !== 'win32')('writes the file with mode 0600 in a 0700 directory', async () => {
    const env = fileEnv();
    const s = await openSecretStore({ env, interactive: false });
    await s.set(deploymentSecret('alpha', 'mcp-api-key'), 'c4m_mode_check_value_1');
    await s.set(deploymentSecret('alpha', 'crawl4ai-token'), 'c4m_mode_check_value_2'); // the rewrite keeps the mode
    expect(fs.statSync(secretsFile(env)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(secretsFile(env))).mode & 0o777).toBe(0o700);
    // no temp or lock file left behind
    expect(fs.readdirSync(path.dirname(secretsFile(env)))).toEqual(['secrets.enc.json']);
  });

  it('stores no plaintext: not the value, not its base64, not the passphrase; a fresh IV per write', async () => {
    const env = fileEnv();
    const s = await openSecretStore({ env, interactive: false });
    const value = 'c4m_PLAINTEXT_CANARY_0123456789';
    const account = deploymentSecret('alpha', 'mcp-api-key');
    await s.set(account, value);
    const first = JSON.parse(fs.readFileSync(secretsFile(env), 'utf8'));
    await s.set(account, value);
    const raw = fs.readFileSync(secretsFile(env), 'utf8');
    const doc = JSON.parse(raw);

    for (const needle of [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('hex'), PASSPHRASE, 'CANARY']) {
      expect(raw).not.toContain(needle);
    }
    expect(doc).toMatchObject({ version: 1, kdf: { name: 'scrypt', N: 2 ** 17, r: 8, p: 1 } });
    expect(Buffer.from(doc.kdf.salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(doc.entries[account].iv, 'base64')).toHaveLength(12);
    expect(doc.entries[account].iv).not.toBe(first.entries[account].iv);
    expect(doc.entries[account].ct).not.toBe(first.entries[account].ct);
  });

  it('binds each ciphertext to its account and reports a corrupt file', async () => {
    const env = fileEnv();
    const s = await openSecretStore({ env, interactive: false });
    await s.set(deploymentSecret('alpha', 'mcp-api-key'), 'c4m_value_for_alpha_111');
    await s.set(deploymentSecret('beta', 'mcp-api-key'), 'c4m_value_for_beta_2222');
    const doc = JSON.parse(fs.readFileSync(secretsFile(env), 'utf8'));
    doc.entries[deploymentSecret('beta', 'mcp-api-key')] = doc.entries[deploymentSecret('alpha', 'mcp-api-key')];
    fs.writeFileSync(secretsFile(env), JSON.stringify(doc));
    const swapped = await cliRejection(s.get(deploymentSecret('beta', 'mcp-api-key')));
    expect(swapped.message).toMatch(/fails authentication/);

    fs.writeFileSync(secretsFile(env), '{ not json');
    const broken = await cliRejection(s.get(deploymentSecret('alpha', 'mcp-api-key')));
    expect(broken.exitCode).toBe(1);
    expect(broken.message).toMatch(/unreadable: not JSON/);
  });

  it('namespaces secrets: list and deleteAll by deployment prefix leave other deployments alone', async () => {
    const env = fileEnv();
    const s = await openSecretStore({ env, interactive: false });
    await s.set(deploymentSecret('prod', 'mcp-api-key'), 'c4m_prod_key_0000001');
    await s.set(deploymentSecret('prod', 'crawl4ai-token'), 'prod-crawl4ai-token-1');
    await s.set(deploymentSecret('prod-2', 'mcp-api-key'), 'c4m_prod2_key_000002'); // shares the "prod" stem
    await s.set(profileSecret('aws', 'default', 'secret-access-key'), 'aws-secret-access-key-1');

    expect(await s.list(deploymentPrefix('prod'))).toEqual([deploymentSecret('prod', 'crawl4ai-token'), deploymentSecret('prod', 'mcp-api-key')]);
    expect(await s.list('')).toHaveLength(4);

    // destroy needs no passphrase: account names are readable, values are not
    resetSecretStoreCaches();
    const noPass = await openSecretStore({ env: { ...env, CRAWL4AI_MCP_PASSPHRASE: undefined }, interactive: false });
    expect(await noPass.deleteAll(deploymentPrefix('prod'))).toBe(2);
    expect(await noPass.deleteAll(deploymentPrefix('prod'))).toBe(0);
    expect(await noPass.delete(deploymentSecret('prod', 'mcp-api-key'))).toBe(false);

    expect(await s.list(deploymentPrefix('prod'))).toEqual([]);
    expect(await s.list(deploymentPrefix('prod-2'))).toEqual([deploymentSecret('prod-2', 'mcp-api-key')]);
    expect(await s.get(deploymentSecret('prod-2', 'mcp-api-key'))).toBe('c4m_prod2_key_000002');
    expect(await s.get(profileSecret('aws', 'default', 'secret-access-key'))).toBe('aws-secret-access-key-1');
    expect(await s.delete(profileSecret('aws', 'default', 'secret-access-key'))).toBe(true);

    // a prefix without the trailing "/" would also match "prod-2": refused
    expect((await cliRejection(s.deleteAll('deployment/prod'))).exitCode).toBe(2);
    expect((await cliRejection(s.deleteAll(''))).exitCode).toBe(2);
  });

  it('keeps every entry when many writes race (lock + re-read before write)', async () => {
    const env = fileEnv();
    const s = await openSecretStore({ env, interactive: false });
    const t = await openSecretStore({ env, interactive: false });
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? s : t).set(deploymentSecret(`d${i}`, 'mcp-api-key'), `c4m_race_value_${i}_xyz`)),
    );
    expect(await s.list('deployment/')).toHaveLength(12);
    expect(await t.get(deploymentSecret('d7', 'mcp-api-key'))).toBe('c4m_race_value_7_xyz');
  });

  it('a new file needs a passphrase of 12 characters or more, from the environment or typed; nothing is written otherwise', async () => {
    const env = fileEnv({ CRAWL4AI_MCP_PASSPHRASE: 'eleven-char' });
    const short = await cliRejection((await openSecretStore({ env, interactive: false })).set(deploymentSecret('alpha', 'mcp-api-key'), 'c4m_value_1234567'));
    expect(short.exitCode).toBe(2);
    expect(short.message).toBe('the passphrase for a new encrypted secret file must be at least 12 characters (it has 11)');
    expect(short.hint).toContain('CRAWL4AI_MCP_PASSPHRASE');
    expect(fs.existsSync(secretsFile(env))).toBe(false);

    resetSecretStoreCaches();
    const typedEnv = fileEnv({ CRAWL4AI_MCP_PASSPHRASE: undefined });
    const typed = await openSecretStore({ env: typedEnv, interactive: true, promptPassphrase: async () => 'hunter2' });
    const err = await cliRejection(typed.set(deploymentSecret('alpha', 'mcp-api-key'), 'c4m_value_1234567'));
    expect(err.message).toContain('at least 12 characters (it has 7)');
    expect(fs.existsSync(secretsFile(typedEnv))).toBe(false);
  });

  it('a file made with scrypt N=2^15 still opens, and the next write re-encrypts it with N=2^17', async () => {
    const env = fileEnv();
    // The file as the previous release wrote it (same format, N=2^15).
    const N = 2 ** 15;
    const salt = crypto.randomBytes(16);
    const key = crypto.scryptSync(PASSPHRASE, salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 });
    const seal = (plaintext: string, aad: string) => {
      const iv = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(aad));
      const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
      return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), ct: ct.toString('base64') };
    };
    const old = deploymentSecret('alpha', 'mcp-api-key');
    const legacy = {
      version: 1,
      kdf: { name: 'scrypt', N, r: 8, p: 1, salt: salt.toString('base64') },
      verifier: seal('crawl4ai-mcp secret file', 'crawl4ai-mcp:v1:verifier'),
      entries: { [old]: seal('c4m_legacy_value_123', `crawl4ai-mcp:v1:entry:${old}`) },
    };
    fs.mkdirSync(path.dirname(secretsFile(env)), { recursive: true });
    fs.writeFileSync(secretsFile(env), JSON.stringify(legacy), { mode: 0o600 });

    const s = await openSecretStore({ env, interactive: false });
    expect(await s.get(old)).toBe('c4m_legacy_value_123');
    expect(JSON.parse(fs.readFileSync(secretsFile(env), 'utf8')).kdf.N).toBe(N); // reading changes nothing

    await s.set(deploymentSecret('alpha', 'crawl4ai-token'), 'new-token-value-1');
    const upgraded = JSON.parse(fs.readFileSync(secretsFile(env), 'utf8'));
    expect(upgraded.kdf).toMatchObject({ N: 2 ** 17, r: 8, p: 1 });
    expect(upgraded.kdf.salt).not.toBe(legacy.kdf.salt);
    resetSecretStoreCaches(); // a new process derives the key from the file's new parameters
    const again = await openSecretStore({ env, interactive: false });
    expect(await again.get(old)).toBe('c4m_legacy_value_123');
    expect(await again.get(deploymentSecret('alpha', 'crawl4ai-token'))).toBe('new-token-value-1');
  });

  it('without a passphrase and without a terminal: a usage error that says what to set', async () => {
    const env = fileEnv({ CRAWL4AI_MCP_PASSPHRASE: undefined });
    const s = await openSecretStore({ env, interactive: false });
    const err = await cliRejection(s.set(deploymentSecret('alpha', 'mcp-api-key'), 'c4m_never_written_12345'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('no passphrase for the encrypted secret file');
    expect(err.hint).toBe('set CRAWL4AI_MCP_PASSPHRASE or run in a terminal');
    expect(fs.existsSync(secretsFile(env))).toBe(false);
  });

  it('in a terminal: asks for the passphrase (with confirmation on creation), once per process', async () => {
    const env = fileEnv({ CRAWL4AI_MCP_PASSPHRASE: undefined });
    const asked: boolean[] = [];
    const answers = ['typed passphrase 1', 'typo', 'typed passphrase 1'];
    const promptPassphrase = async (confirm: boolean) => {
      asked.push(confirm);
      return answers.shift() ?? '';
    };
    const s = await openSecretStore({ env, interactive: true, promptPassphrase });
    await s.set(deploymentSecret('alpha', 'mcp-api-key'), 'c4m_prompted_value_1234');
    await s.set(deploymentSecret('alpha', 'crawl4ai-token'), 'prompted-token-value-1');
    expect(await s.get(deploymentSecret('alpha', 'mcp-api-key'))).toBe('c4m_prompted_value_1234');
    expect(asked).toEqual([true]); // creation asks once (the prompt itself asks twice to confirm)
    expect(redact('typed passphrase 1')).toBe('****');

    resetSecretStoreCaches(); // a new process: a typo, then the right one; concurrent reads share the prompt
    const later = await openSecretStore({ env, interactive: true, promptPassphrase });
    expect(
      await Promise.all([later.get(deploymentSecret('alpha', 'crawl4ai-token')), later.get(deploymentSecret('alpha', 'mcp-api-key'))]),
    ).toEqual(['prompted-token-value-1', 'c4m_prompted_value_1234']);
    expect(asked).toEqual([true, false, false]);

    resetSecretStoreCaches(); // three wrong answers: credentials error
    answers.push('nope-1', 'nope-2', 'nope-3');
    const err = await cliRejection((await openSecretStore({ env, interactive: true, promptPassphrase })).get(deploymentSecret('alpha', 'crawl4ai-token')));
    expect(err.exitCode).toBe(3);
  });
});

describe('redaction', () => {
  it('a value read from the store is masked by redact() from then on', async () => {
    const env = fileEnv();
    // Written by another process, so this process has never seen the value before `get`.
    const value = `c4m_${process.pid}_${Date.now()}_never_seen_before`;
    const account = deploymentSecret('alpha', 'mcp-api-key');
    await runChild(process.execPath, [RUN, 'file-set', account, value], isolatedEnv(env));
    const line = `Authorization: Bearer ${value} (encoded: ${encodeURIComponent(value)})`;
    expect(redact(line)).toBe(line);

    const s = await openSecretStore({ env, interactive: false });
    expect(await s.get(account)).toBe(value);
    expect(redact(line)).toBe('Authorization: Bearer **** (encoded: ****)');
    expect(redact(`passphrase=${PASSPHRASE}`)).toBe('passphrase=****');
  });
});

// ---------------------------------------------------------------------------------------------------

describe('backend selection', () => {
  it('CRAWL4AI_MCP_SECRET_BACKEND=file forces the file; a bad value is a usage error', async () => {
    expect(await detectSecretBackend({ CRAWL4AI_MCP_SECRET_BACKEND: 'file' })).toEqual({
      backend: 'file',
      reason: 'CRAWL4AI_MCP_SECRET_BACKEND=file',
    });
    const err = await cliRejection(detectSecretBackend({ CRAWL4AI_MCP_SECRET_BACKEND: 'vault' }));
    expect(err.exitCode).toBe(2);
  });

  it('loads @napi-rs/keyring and @inquirer/prompts only when needed', async () => {
    const env = isolatedEnv({ CRAWL4AI_MCP_HOME: tmpDir(), CRAWL4AI_MCP_PASSPHRASE: PASSPHRASE });
    const { result } = await runChild<{ tracked: boolean; afterImport: string[]; afterFileUse: string[] }>(process.execPath, [RUN, 'lazy'], env);
    expect(result.value).toEqual({ tracked: true, afterImport: [], afterFileUse: [] });
  });

  it.runIf(process.platform === 'linux')('no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS and DISPLAY unset) → file, saying why', async () => {
    const env = isolatedEnv({ XDG_RUNTIME_DIR: tmpDir(), CRAWL4AI_MCP_HOME: tmpDir(), CRAWL4AI_MCP_PASSPHRASE: PASSPHRASE });
    expect(env.DBUS_SESSION_BUS_ADDRESS).toBeUndefined();
    expect(env.DISPLAY).toBeUndefined();
    const choice = await detectSecretBackend(env);
    expect(choice).toEqual({ backend: 'file', reason: 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)' });

    const s = await openSecretStore({ env, interactive: false });
    expect(s.backend).toBe('file');
    expect(s.reason).toMatch(/D-Bus/);

    const forced = await cliRejection(detectSecretBackend({ ...env, CRAWL4AI_MCP_SECRET_BACKEND: 'keychain' }));
    expect(forced.exitCode).toBe(3);
    expect(forced.message).toMatch(/D-Bus/);
  });

  it('a missing @napi-rs/keyring (failed optional install) → file, saying why', async () => {
    setKeyringModuleForTests('@napi-rs/keyring-not-installed');
    try {
      const choice = await detectSecretBackend({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/c4m-test-bus' });
      expect(choice.backend).toBe('file');
      expect(choice.reason).toMatch(/^@napi-rs\/keyring is not installed/);
    } finally {
      setKeyringModuleForTests('@napi-rs/keyring');
    }
  });

  it.runIf(process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64'))(
    'the kernel keyring is never taken for a keychain (entries are pinned to the Secret Service)',
    async () => {
      // A child with its own kernel session keyring, where unpinned @napi-rs/keyring succeeds
      // silently, and a bus address that leads nowhere.
      const keyctl = process.arch === 'x64' ? 250 : 219;
      const perl = `$ENV{JOINED} = syscall(${keyctl}, 1, 0) >= 0 ? 1 : 0; exec @ARGV or die "exec: $!"`;
      const env = isolatedEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${tmpDir()}/no-bus`, XDG_RUNTIME_DIR: tmpDir() });
      const { result } = await runChild<{
        raw: { ok: boolean; value?: string };
        detect: { ok: boolean; value: store.BackendChoice };
        forced: { ok: boolean; error?: { exitCode: number; message: string } };
      }>('perl', ['-e', perl, process.execPath, RUN, 'unpinned'], env);
      const r = result.value;
      // Where the container permits a session keyring, the unpinned write did land in the kernel.
      if (r.raw.ok) expect(r.raw.value).toBe('kernel-keyring-value');
      expect(r.detect.value.backend).toBe('file');
      expect(r.detect.value.reason).toMatch(/^D-Bus session bus unreachable/);
      expect(r.forced.ok).toBe(false);
      expect(r.forced.error?.exitCode).toBe(3);
    },
  );
});

// ---------------------------------------------------------------------------------------------------

type KeychainScenario = {
  detect: store.BackendChoice;
  detectMs: number;
  backend: string;
  description: string;
  gets: Record<string, boolean>;
  absent: string | null;
  redacted: string;
  inKeychain: boolean;
  probeLeftovers: string[];
  listA: string[];
  listB: string[];
  deleteAllA: number;
  listAAfter: string[];
  bAfter: boolean;
  deleteB: boolean;
  deleteBAgain: boolean;
  deleteProfile: number;
  leftovers: string[];
  fallback: { backend: string; get: string; list: string[]; fileAfterSet: string[]; getAfterSet: string; deleteAll: number; leftovers: string[] };
  run: string;
};

function checkKeychainScenario(r: KeychainScenario) {
  expect(r.detect.backend).toBe('keychain');
  expect(r.backend).toBe('keychain');
  expect(Object.values(r.gets)).toEqual([true, true, true, true]);
  expect(r.absent).toBeNull();
  expect(r.redacted).toBe('key=****');
  expect(r.inKeychain).toBe(true);
  expect(r.probeLeftovers).toEqual([]);
  expect(r.listA).toEqual([`deployment/${r.run}-a/crawl4ai-token`, `deployment/${r.run}-a/mcp-api-key`]);
  expect(r.listB).toEqual([`deployment/${r.run}-b/mcp-api-key`]);
  expect(r.deleteAllA).toBe(2);
  expect(r.listAAfter).toEqual([]);
  expect(r.bAfter).toBe(true);
  expect([r.deleteB, r.deleteBAgain]).toEqual([true, false]);
  expect(r.deleteProfile).toBe(1);
  expect(r.leftovers).toEqual([]);
  expect(r.fallback).toEqual({
    backend: 'keychain',
    get: `tunnel-${r.run}-from-the-file`,
    list: [`deployment/${r.run}-a/tunnel-token`],
    fileAfterSet: [],
    getAfterSet: `tunnel-${r.run}-moved`,
    deleteAll: 1,
    leftovers: [],
  });
}

/**
 * The real Secret Service: a throwaway D-Bus session with its own gnome-keyring (HOME and
 * XDG_RUNTIME_DIR in a temp dir, so a developer's own keyring is never touched).
 */
const SECRET_SERVICE: SystemTool[] = [
  { cmd: 'dbus-run-session', pkg: 'dbus-daemon' },
  { cmd: 'dbus-send', pkg: 'dbus-bin' },
  { cmd: 'gnome-keyring-daemon', pkg: 'gnome-keyring' },
];
const itKeychain = itWith(SECRET_SERVICE);

describe.runIf(process.platform === 'linux').concurrent('OS keychain on a real Secret Service (dbus-run-session + gnome-keyring)', () => {
  const LOCK = [
    'dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets',
    'org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null',
  ].join(' ');

  function inSession<T>(setup: string, scenario: string) {
    const home = tmpDir();
    const runtime = path.join(home, 'run');
    fs.mkdirSync(runtime, { mode: 0o700 });
    const env = isolatedEnv({
      HOME: home,
      XDG_RUNTIME_DIR: runtime,
      CRAWL4AI_MCP_HOME: path.join(home, 'c4m'),
      CRAWL4AI_MCP_PASSPHRASE: PASSPHRASE,
      C4M_NODE: process.execPath,
      C4M_RUN: RUN,
    });
    const script = `echo pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; ${setup} exec "$C4M_NODE" "$C4M_RUN" ${scenario}`;
    return runChild<T>('dbus-run-session', ['--', 'sh', '-c', script], env);
  }

  itKeychain('round-trips, lists and deletes by namespace in the Secret Service, never the kernel keyring', async () => {
    const { result, ms } = await inSession<KeychainScenario>('', 'keychain');
    const r = result.value;
    expect(r.detect.reason).toBe('Secret Service reachable');
    expect(r.description).toBe('OS keychain (Secret Service via D-Bus)');
    checkKeychainScenario(r);
    console.info(`keychain round trip in a fresh D-Bus session: ${ms} ms in all, probe ${r.detectMs} ms`);
  });

  itKeychain('a locked keyring is not "absent": detection falls back to the file, a forced keychain fails', async () => {
    const { result } = await inSession<{
      detect: { ok: boolean; value: store.BackendChoice };
      forced: { ok: boolean; error?: { exitCode: number; message: string } };
    }>(`${LOCK};`, 'detect');
    const r = result.value;
    expect(r.detect.value.backend).toBe('file');
    expect(r.detect.value.reason).toMatch(/^the OS keychain is locked/);
    expect(r.forced.ok).toBe(false);
    expect(r.forced.error?.exitCode).toBe(3);
    expect(r.forced.error?.message).toMatch(/locked/);
  });

  itKeychain('a session bus without a running keyring daemon → file, saying why', async () => {
    const home = tmpDir();
    const env = isolatedEnv({ HOME: home, XDG_RUNTIME_DIR: home, C4M_NODE: process.execPath, C4M_RUN: RUN });
    const { result } = await runChild<{ detect: { value: store.BackendChoice } }>(
      'dbus-run-session',
      ['--', 'sh', '-c', 'exec "$C4M_NODE" "$C4M_RUN" detect'],
      env,
    );
    expect(result.value.detect.value.backend).toBe('file');
    expect(result.value.detect.value.reason).toMatch(/keychain|Secret Service/);
  });
});

/** This session's own keychain, when there is one (a desktop): same scenario, in-process, then cleaned up. */
const ambient =
  process.platform !== 'linux' || process.env.DBUS_SESSION_BUS_ADDRESS ? await probeKeychain(process.env, 5_000) : { ok: false };
describe.runIf(ambient.ok)("this session's OS keychain (in-process)", () => {
  it('round-trips, lists and deletes by namespace', async () => {
    const env = { ...process.env, CRAWL4AI_MCP_HOME: tmpDir(), CRAWL4AI_MCP_PASSPHRASE: PASSPHRASE, CRAWL4AI_MCP_SECRET_BACKEND: 'auto' };
    checkKeychainScenario((await scenarios.keychain({ store, keys, redact: redactModule }, env)) as KeychainScenario);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliRejection } from './helpers/outcome.js';
import { secretsFile } from '../src/ground/paths.js';
import { deploymentSecret } from '../src/secrets/keys.js';
import { openSecretStore, resetSecretStoreCaches } from '../src/secrets/store.js';
import { unlockCacheFile } from '../src/secrets/unlock-cache.js';

/**
 * The unlock cache of the encrypted secret file (src/secrets/unlock-cache.ts), through the real
 * FileStore and the real file system: each resetSecretStoreCaches() stands for a new process.
 */
const PASSPHRASE = 'correct horse battery staple';
const ACCOUNT = deploymentSecret('alpha', 'mcp-api-key');
const VALUE = 'c4m_unlock_cache_value_123456';

const roots: string[] = [];
afterAll(() => {
  for (const d of roots) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(mode = 0o700): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-unlock-'));
  fs.chmodSync(d, mode);
  roots.push(d);
  return d;
}

/** A config home and a user-only runtime dir; the passphrase in the environment. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { CRAWL4AI_MCP_HOME: tmp(), XDG_RUNTIME_DIR: tmp(), CRAWL4AI_MCP_SECRET_BACKEND: 'file', CRAWL4AI_MCP_PASSPHRASE: PASSPHRASE, ...extra };
}
const without = (e: NodeJS.ProcessEnv, ...keys: string[]) => Object.fromEntries(Object.entries(e).filter(([k]) => !keys.includes(k)));

async function unlockWith(e: NodeJS.ProcessEnv): Promise<string | null> {
  resetSecretStoreCaches();
  return (await openSecretStore({ env: e, interactive: false })).get(ACCOUNT);
}
const noPassphrase = (p: Promise<unknown>) => cliRejection(p).then((e) => expect(e.message).toBe('no passphrase for the encrypted secret file'));

async function seeded(e: NodeJS.ProcessEnv): Promise<string> {
  resetSecretStoreCaches();
  await (await openSecretStore({ env: e, interactive: false })).set(ACCOUNT, VALUE);
  const entry = await unlockCacheFile(e, secretsFile(e));
  expect(entry).not.toBeNull();
  return entry!;
}

describe.runIf(process.platform !== 'win32')('unlock cache of the encrypted secret file', () => {
  it('after one unlock, the next process reads without the passphrase; the entry is 0600 in a 0700 dir and holds no secret value', async () => {
    const e = env();
    const entry = await seeded(e);
    // before this cache: "no passphrase for the encrypted secret file"
    expect(await unlockWith(without(e, 'CRAWL4AI_MCP_PASSPHRASE'))).toBe(VALUE);
    expect(await unlockWith(e)).toBe(VALUE); // the right passphrase matches the entry's check
    expect(fs.statSync(entry).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(entry)).mode & 0o777).toBe(0o700);
    expect(path.dirname(path.dirname(entry))).toBe(e.XDG_RUNTIME_DIR);
    const text = fs.readFileSync(entry, 'utf8');
    for (const secret of [VALUE, PASSPHRASE, Buffer.from(VALUE).toString('base64')]) expect(text).not.toContain(secret);
    // nothing of it in the config directory (state, secret file)
    expect(fs.readdirSync(e.CRAWL4AI_MCP_HOME!, { recursive: true }).map(String).filter((f) => f.includes('unlock'))).toEqual([]);
  });

  it('a wrong passphrase in the environment is refused as before, cache or not', async () => {
    const e = env();
    await seeded(e);
    const err = await cliRejection(unlockWith({ ...e, CRAWL4AI_MCP_PASSPHRASE: 'not the passphrase at all' }));
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe(`wrong passphrase for ${secretsFile(e)}`);
  });

  it('expires: after the TTL the passphrase is needed again and the entry is gone', async () => {
    const e = env({ CRAWL4AI_MCP_UNLOCK_CACHE: '1s' });
    const entry = await seeded(e);
    expect(await unlockWith(without(e, 'CRAWL4AI_MCP_PASSPHRASE'))).toBe(VALUE);
    await new Promise((r) => setTimeout(r, 1_100));
    await noPassphrase(unlockWith(without(e, 'CRAWL4AI_MCP_PASSPHRASE')));
    expect(fs.existsSync(entry)).toBe(false);
  });

  it('CRAWL4AI_MCP_UNLOCK_CACHE=off keeps nothing, and drops an entry made before; a bad value is a usage error', async () => {
    const off = env({ CRAWL4AI_MCP_UNLOCK_CACHE: 'off' });
    await seeded(off);
    expect(fs.existsSync(path.join(off.XDG_RUNTIME_DIR!, 'crawl4ai-mcp'))).toBe(false);
    await noPassphrase(unlockWith(without(off, 'CRAWL4AI_MCP_PASSPHRASE')));

    const e = env();
    const entry = await seeded(e);
    expect(await unlockWith({ ...e, CRAWL4AI_MCP_UNLOCK_CACHE: '0' })).toBe(VALUE);
    expect(fs.existsSync(entry)).toBe(false);

    const bad = await cliRejection(unlockWith({ ...e, CRAWL4AI_MCP_UNLOCK_CACHE: 'forever' }));
    expect(bad.exitCode).toBe(2);
    expect(bad.message).toBe('CRAWL4AI_MCP_UNLOCK_CACHE=forever is not a duration up to 24h');
  });

  it('ignores a tampered entry: altered key, expiry pushed past the TTL, readable by others, or not JSON', async () => {
    const tamper: Array<[string, (entry: string) => void]> = [
      ['altered key', (f) => {
        const j = JSON.parse(fs.readFileSync(f, 'utf8'));
        const k = Buffer.from(j.key, 'base64');
        k[0]! ^= 1;
        fs.writeFileSync(f, JSON.stringify({ ...j, key: k.toString('base64') }));
      }],
      ['expiry a year away', (f) => fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), expiresAt: Date.now() + 365 * 86_400_000 }))],
      ['mode 0644', (f) => fs.chmodSync(f, 0o644)],
      ['not JSON', (f) => fs.writeFileSync(f, '{')],
    ];
    for (const [, alter] of tamper) {
      const e = env();
      const entry = await seeded(e);
      alter(entry);
      await noPassphrase(unlockWith(without(e, 'CRAWL4AI_MCP_PASSPHRASE')));
      expect(fs.existsSync(entry)).toBe(false); // dropped, so the next unlock writes a good one
      expect(await unlockWith(e)).toBe(VALUE);
      expect(await unlockWith(without(e, 'CRAWL4AI_MCP_PASSPHRASE'))).toBe(VALUE);
    }
  });

  it('no cache without a user-only XDG_RUNTIME_DIR (absent, or open to others)', async () => {
    const open = env({ XDG_RUNTIME_DIR: tmp(0o755) });
    resetSecretStoreCaches();
    await (await openSecretStore({ env: open, interactive: false })).set(ACCOUNT, VALUE);
    expect(await unlockCacheFile(open, secretsFile(open))).toBeNull();
    expect(fs.readdirSync(open.XDG_RUNTIME_DIR!)).toEqual([]);
    await noPassphrase(unlockWith(without(open, 'CRAWL4AI_MCP_PASSPHRASE')));

    const none = without(env(), 'XDG_RUNTIME_DIR');
    resetSecretStoreCaches();
    await (await openSecretStore({ env: none, interactive: false })).set(ACCOUNT, VALUE);
    await noPassphrase(unlockWith(without(none, 'CRAWL4AI_MCP_PASSPHRASE')));
  });

  it('a re-encrypted file (new salt) does not open with the old entry', async () => {
    const e = env();
    const entry = await seeded(e);
    const j = JSON.parse(fs.readFileSync(entry, 'utf8'));
    fs.writeFileSync(entry, JSON.stringify({ ...j, kdf: { ...j.kdf, salt: Buffer.alloc(16, 7).toString('base64') } }), { mode: 0o600 });
    await noPassphrase(unlockWith(without(e, 'CRAWL4AI_MCP_PASSPHRASE')));
  });
});

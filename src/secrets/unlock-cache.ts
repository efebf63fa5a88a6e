import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../ground/errors.js';

/**
 * The unlock cache of the encrypted secret file, in the manner of sudo's timestamp: after the
 * passphrase unlocked the file, the key scrypt derived from it is kept for a bounded time (15 min
 * by default, counted from that unlock, not extended by use), so the next commands skip the
 * ~0.35-1 s key derivation and do not ask again.
 *
 * Where: $XDG_RUNTIME_DIR/crawl4ai-mcp/unlock-<hash of the secret file's path>.json, mode 0600 in a
 * 0700 directory. XDG_RUNTIME_DIR is the user's own tmpfs, emptied at logout and reboot; without
 * one (macOS, Windows, most containers) nothing is cached. Never in the config directory, the
 * state files, the repo or the logs.
 *
 * What is kept: the derived key (whoever can read the entry can decrypt the file until it
 * expires: the same user, or root), the file's KDF parameters and salt (a re-encrypted file
 * misses), the expiry, and an HMAC of the passphrase under that key. With CRAWL4AI_MCP_PASSPHRASE
 * set, the entry is used only when the HMAC matches, so a wrong passphrase fails as before; a
 * command that would prompt uses the entry without asking, as sudo does.
 *
 * An entry is ignored (and removed) when it is expired, expires further away than the TTL allows,
 * is not a regular file owned by this user with mode 0600, does not parse, or does not open the
 * file's verifier (the caller checks that: GCM authentication, so an altered key never passes).
 */
export const UNLOCK_CACHE_ENV = 'CRAWL4AI_MCP_UNLOCK_CACHE';
export const DEFAULT_UNLOCK_TTL_MS = 15 * 60_000;
const MAX_UNLOCK_TTL_MS = 24 * 3_600_000;

export interface CachedKdf {
  N: number;
  r: number;
  p: number;
  salt: string;
}

interface Entry {
  version: 1;
  file: string;
  kdf: CachedKdf;
  expiresAt: number;
  key: string;
  check: string;
}

/** How long a key is kept: CRAWL4AI_MCP_UNLOCK_CACHE = 15m (default) | 90s | 2h | 0 / off (disabled). */
export function unlockTtlMs(env: NodeJS.ProcessEnv): number {
  const raw = (env[UNLOCK_CACHE_ENV] ?? '').trim().toLowerCase();
  if (raw === '') return DEFAULT_UNLOCK_TTL_MS;
  if (raw === '0' || raw === 'off' || raw === 'false' || raw === 'no') return 0;
  const m = /^(\d+)\s*(s|m|h)?$/.exec(raw);
  const ms = m ? Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'm') as 's' | 'm' | 'h'] : NaN;
  if (!Number.isFinite(ms) || ms > MAX_UNLOCK_TTL_MS) {
    throw usageError(`${UNLOCK_CACHE_ENV}=${env[UNLOCK_CACHE_ENV]} is not a duration up to 24h`, 'use e.g. 15m, 90s or 2h, or off to keep no unlocked key');
  }
  return ms;
}

const ownedByMe = (uid: number) => typeof process.getuid !== 'function' || uid === process.getuid();

/** $XDG_RUNTIME_DIR/crawl4ai-mcp when XDG_RUNTIME_DIR is a 0700 directory of this user; else null. */
async function cacheDirOf(env: NodeJS.ProcessEnv): Promise<string | null> {
  const runtime = env.XDG_RUNTIME_DIR;
  if (!runtime || !path.isAbsolute(runtime) || process.platform === 'win32') return null;
  const st = await fs.lstat(runtime).catch(() => null);
  if (!st?.isDirectory() || !ownedByMe(st.uid) || (st.mode & 0o077) !== 0) return null;
  return path.join(runtime, 'crawl4ai-mcp');
}

/** The entry's path for a secret file, or null when there is no place for one. */
export async function unlockCacheFile(env: NodeJS.ProcessEnv, secretFile: string): Promise<string | null> {
  const dir = await cacheDirOf(env);
  if (!dir) return null;
  const id = createHash('sha256').update(path.resolve(secretFile)).digest('hex').slice(0, 16);
  return path.join(dir, `unlock-${id}.json`);
}

const checkOf = (key: Buffer, passphrase: string) => createHmac('sha256', key).update(`crawl4ai-mcp:unlock-cache:${passphrase}`).digest();

function parseEntry(text: string): Entry | null {
  try {
    const e = JSON.parse(text) as Partial<Entry> | null;
    const k = e?.kdf;
    if (
      !e || e.version !== 1 || typeof e.file !== 'string' || typeof e.expiresAt !== 'number' ||
      typeof e.key !== 'string' || typeof e.check !== 'string' ||
      !k || typeof k.salt !== 'string' || ![k.N, k.r, k.p].every(Number.isInteger)
    ) {
      return null;
    }
    return e as Entry;
  } catch {
    return null;
  }
}

/**
 * The cached key of `secretFile` for these KDF parameters, or null (no entry, disabled, expired,
 * unsafe, or `passphrase` given and not the one that unlocked it). The caller must still check the
 * key against the file's verifier.
 */
export async function readUnlockedKey(env: NodeJS.ProcessEnv, secretFile: string, kdf: CachedKdf, passphrase: string | undefined, now = Date.now()): Promise<Buffer | null> {
  const ttl = unlockTtlMs(env);
  const file = await unlockCacheFile(env, secretFile);
  if (!file) return null;
  if (ttl === 0) {
    await forgetUnlockedKey(env, secretFile); // turning the cache off also drops what it held
    return null;
  }
  const st = await fs.lstat(file).catch(() => null);
  if (!st) return null;
  const drop = async () => {
    await fs.rm(file, { force: true }).catch(() => undefined);
    return null;
  };
  if (!st.isFile() || !ownedByMe(st.uid) || (st.mode & 0o077) !== 0) return drop();
  const entry = parseEntry(await fs.readFile(file, 'utf8').catch(() => ''));
  if (!entry) return drop();
  if (entry.expiresAt <= now || entry.expiresAt > now + ttl) return drop();
  const same = entry.file === path.resolve(secretFile) && entry.kdf.salt === kdf.salt && entry.kdf.N === kdf.N && entry.kdf.r === kdf.r && entry.kdf.p === kdf.p;
  if (!same) return null;
  const key = Buffer.from(entry.key, 'base64');
  if (key.length !== 32) return drop();
  if (passphrase !== undefined) {
    const check = Buffer.from(entry.check, 'base64');
    const want = checkOf(key, passphrase);
    if (check.length !== want.length || !timingSafeEqual(check, want)) return null;
  }
  return key;
}

/** Keeps the key that `passphrase` just unlocked, for the TTL. Best effort: never fails a command. */
export async function rememberUnlockedKey(env: NodeJS.ProcessEnv, secretFile: string, kdf: CachedKdf, key: Buffer, passphrase: string, now = Date.now()): Promise<void> {
  try {
    const ttl = unlockTtlMs(env);
    const file = await unlockCacheFile(env, secretFile);
    if (!file || ttl === 0) return;
    const entry: Entry = {
      version: 1,
      file: path.resolve(secretFile),
      kdf: { N: kdf.N, r: kdf.r, p: kdf.p, salt: kdf.salt },
      expiresAt: now + ttl,
      key: key.toString('base64'),
      check: checkOf(key, passphrase).toString('base64'),
    };
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.chmod(path.dirname(file), 0o700);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.writeFile(tmp, JSON.stringify(entry), { mode: 0o600, flag: 'wx' });
      await fs.rename(tmp, file);
    } finally {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
    }
  } catch {
    // a cache: the next command derives the key again
  }
}

export async function forgetUnlockedKey(env: NodeJS.ProcessEnv, secretFile: string): Promise<void> {
  const file = await unlockCacheFile(env, secretFile).catch(() => null);
  if (file) await fs.rm(file, { force: true }).catch(() => undefined);
}

import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError, ExitCode, credentialsError, usageError } from '../ground/errors.js';
import { registerSecret } from '../ground/redact.js';
import type { SecretStore } from './store.js';
import { assertAccount, assertPrefix } from './validate.js';
import { forgetUnlockedKey, readUnlockedKey, rememberUnlockedKey } from './unlock-cache.js';

/**
 * Encrypted-file backend, used where no OS keychain is usable (servers, containers, CI).
 *
 * One JSON file, mode 0600 in a 0700 directory:
 *   { version: 1,
 *     kdf: { name: 'scrypt', N, r, p, salt },          // key = scrypt(passphrase, salt), 32 bytes
 *     verifier: { iv, tag, ct },                        // a known plaintext: tells a wrong passphrase apart
 *     entries: { [account]: { iv, tag, ct } } }         // AES-256-GCM, random 12-byte IV per write
 * Each ciphertext is bound to its account name (GCM additional data), so entries can't be swapped.
 * Account names are not secret and stay readable: list/delete/deleteAll work without the passphrase
 * (so `destroy` never needs it); get/set derive the key once per process.
 */

export const PASSPHRASE_ENV = 'CRAWL4AI_MCP_PASSPHRASE';
/**
 * scrypt cost for new files and re-encryption: N=2^17 (current guidance; ~350 ms and ~180 MB per
 * unlock). Files written with a lower N (2^15 before) still open, since the file records its N, and
 * are re-encrypted with these parameters on the next write.
 */
export const KDF_DEFAULTS = { N: 2 ** 17, r: 8, p: 1 } as const;
/** The shortest passphrase accepted for a new file (typed or CRAWL4AI_MCP_PASSPHRASE). */
export const MIN_PASSPHRASE_LENGTH = 12;
const VERIFIER_PLAINTEXT = 'crawl4ai-mcp secret file';
const VERIFIER_AAD = 'crawl4ai-mcp:v1:verifier';
const entryAad = (account: string) => `crawl4ai-mcp:v1:entry:${account}`;

interface Sealed {
  iv: string;
  tag: string;
  ct: string;
}
interface Kdf {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
}
export interface SecretFileV1 {
  version: 1;
  kdf: Kdf;
  verifier: Sealed;
  entries: Record<string, Sealed>;
}

export interface PassphraseSource {
  env: NodeJS.ProcessEnv;
  interactive: boolean;
  /** asks the user; `confirm` is true when the file is being created (ask twice) */
  prompt?: ((confirm: boolean) => Promise<string>) | undefined;
}

// ---- crypto -------------------------------------------------------------------------------------

function scrypt(passphrase: string, salt: Buffer, kdf: Omit<Kdf, 'name' | 'salt'>): Promise<Buffer> {
  const opts: ScryptOptions = { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r * kdf.p };
  return new Promise((resolve, reject) =>
    scryptCb(passphrase, salt, 32, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Derived keys, once per process per (salt, parameters, passphrase). */
const keyCache = new Map<string, Promise<Buffer>>();

function deriveKey(passphrase: string, kdf: Kdf): Promise<Buffer> {
  const id = [kdf.salt, kdf.N, kdf.r, kdf.p, createHash('sha256').update(passphrase).digest('hex')].join('|');
  let key = keyCache.get(id);
  if (!key) {
    key = scrypt(passphrase, Buffer.from(kdf.salt, 'base64'), kdf);
    keyCache.set(id, key);
    key.catch(() => keyCache.delete(id));
  }
  return key;
}

function seal(key: Buffer, plaintext: string, aad: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

/** null when the key is wrong or the data was altered (GCM authentication failed). */
function open(key: Buffer, sealed: Sealed, aad: string): string | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** Written with weaker scrypt parameters than today's: re-encrypted on the next write. */
const outdated = (k: Kdf) => k.N < KDF_DEFAULTS.N || k.r < KDF_DEFAULTS.r || k.p < KDF_DEFAULTS.p;

// ---- file I/O -------------------------------------------------------------------------------------

export function displayPath(file: string): string {
  const home = os.homedir();
  return home && file.startsWith(home + path.sep) ? '~' + file.slice(home.length) : file;
}

function corrupt(file: string, why: string): CliError {
  return new CliError(`the encrypted secret file ${file} is unreadable: ${why}`, {
    exitCode: ExitCode.failed,
    hint: 'restore it from a backup, or move it away to start over (the secrets in it are then lost)',
  });
}

const isSealed = (v: unknown): v is Sealed =>
  !!v && typeof v === 'object' && ['iv', 'tag', 'ct'].every((k) => typeof (v as Record<string, unknown>)[k] === 'string');

function parseDoc(file: string, text: string): SecretFileV1 {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw corrupt(file, 'not JSON');
  }
  const d = doc as Partial<SecretFileV1> | null;
  if (!d || typeof d !== 'object') throw corrupt(file, 'not an object');
  if (d.version !== 1) throw corrupt(file, `unsupported version ${JSON.stringify(d.version)} (this crawl4ai-mcp reads version 1)`);
  const k = d.kdf;
  const pow2 = (n: unknown) => Number.isInteger(n) && (n as number) >= 2 && ((n as number) & ((n as number) - 1)) === 0;
  if (
    !k || k.name !== 'scrypt' || !pow2(k.N) || k.N > 2 ** 20 ||
    !Number.isInteger(k.r) || k.r < 1 || k.r > 32 || !Number.isInteger(k.p) || k.p < 1 || k.p > 16 ||
    typeof k.salt !== 'string' || Buffer.from(k.salt, 'base64').length < 16
  ) {
    throw corrupt(file, 'bad key-derivation parameters');
  }
  if (!isSealed(d.verifier)) throw corrupt(file, 'no verifier');
  if (!d.entries || typeof d.entries !== 'object' || !Object.values(d.entries).every(isSealed)) throw corrupt(file, 'bad entries');
  return d as SecretFileV1;
}

async function readDoc(file: string): Promise<SecretFileV1 | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return parseDoc(file, text);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** temp file (0600) + rename, so readers see the old or the new file, never half of one. */
async function writeDoc(file: string, doc: SecretFileV1): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') await fs.chmod(dir, 0o700).catch(() => undefined);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fh = await fs.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(doc, null, 2) + '\n', 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (process.platform !== 'win32') await fs.chmod(tmp, 0o600);
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.rename(tmp, file);
        break;
      } catch (e) {
        // Windows refuses to replace a file another process has open for a moment.
        const code = (e as NodeJS.ErrnoException).code;
        if (attempt >= 10 || (code !== 'EPERM' && code !== 'EBUSY' && code !== 'EACCES')) throw e;
        await sleep(50);
      }
    }
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** Cross-process lock around read-modify-write: an O_EXCL lock file, taken over when stale. */
async function withFileLock<T>(file: string, f: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const fh = await fs.open(lock, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await fs.stat(lock).catch(() => null);
      if (st && Date.now() - st.mtimeMs > 30_000) {
        await fs.rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new CliError(`the encrypted secret file ${file} is locked by another crawl4ai-mcp process`, {
          exitCode: ExitCode.conflict,
          hint: `wait for it to finish, or remove ${lock} if no crawl4ai-mcp is running`,
        });
      }
      await sleep(5 + Math.random() * 20);
    }
  }
  try {
    return await f();
  } finally {
    await fs.rm(lock, { force: true }).catch(() => undefined);
  }
}

// ---- the store -----------------------------------------------------------------------------------

/** Passphrases typed at a prompt, once per process per file. */
const typedPassphrases = new Map<string, string>();
/** The last unlock of each file, to serialize unlocks (see FileStore.unlock). */
const unlocking = new Map<string, Promise<unknown>>();
/** Key material of files this process is creating (see FileStore.create). */
const creating = new Map<string, Promise<{ kdf: Kdf; key: Buffer }>>();
/** Keys this process has put in the unlock cache (file|salt). */
const remembered = new Set<string>();

export class FileStore implements SecretStore {
  readonly backend = 'file' as const;
  readonly description: string;
  readonly reason: string;
  readonly file: string;
  private readonly source: PassphraseSource;

  constructor(file: string, source: PassphraseSource, reason: string) {
    this.file = file;
    this.source = source;
    this.reason = reason;
    this.description = `encrypted file ${displayPath(file)}`;
    registerSecret(source.env[PASSPHRASE_ENV]);
  }

  private async passphrase(confirm: boolean): Promise<{ value: string; typed: boolean }> {
    const fromEnv = this.source.env[PASSPHRASE_ENV];
    if (fromEnv) {
      registerSecret(fromEnv);
      return { value: fromEnv, typed: false };
    }
    const cached = typedPassphrases.get(this.file);
    if (cached) return { value: cached, typed: true };
    if (!this.source.interactive || !this.source.prompt) {
      throw usageError('no passphrase for the encrypted secret file', 'set CRAWL4AI_MCP_PASSPHRASE or run in a terminal');
    }
    const value = await this.source.prompt(confirm);
    if (!value) throw usageError('empty passphrase for the encrypted secret file', 'type a passphrase, or set CRAWL4AI_MCP_PASSPHRASE');
    registerSecret(value);
    return { value, typed: true };
  }

  private wrongPassphrase(): CliError {
    return credentialsError(
      `wrong passphrase for ${this.file}`,
      'set CRAWL4AI_MCP_PASSPHRASE to the passphrase used when the file was created',
    );
  }

  /** The key of an existing file. Serialized per file, so concurrent calls share one prompt. */
  private unlock(doc: SecretFileV1): Promise<Buffer> {
    const run = (unlocking.get(this.file) ?? Promise.resolve()).then(() => this.unlockNow(doc));
    unlocking.set(this.file, run.catch(() => undefined));
    return run;
  }

  /**
   * The unlock cache first (see unlock-cache.ts; not for an outdated file, which the next write
   * re-encrypts with the passphrase), then the passphrase: a typed one gets three tries, one from
   * the environment, one.
   */
  private async unlockNow(doc: SecretFileV1): Promise<Buffer> {
    const env = this.source.env;
    if (!outdated(doc.kdf)) {
      const cached = await readUnlockedKey(env, this.file, doc.kdf, env[PASSPHRASE_ENV] || undefined);
      if (cached && open(cached, doc.verifier, VERIFIER_AAD) === VERIFIER_PLAINTEXT) return cached;
      if (cached) await forgetUnlockedKey(env, this.file); // altered: it does not open this file
    }
    for (let attempt = 1; ; attempt++) {
      const pass = await this.passphrase(false);
      const key = await deriveKey(pass.value, doc.kdf);
      if (open(key, doc.verifier, VERIFIER_AAD) === VERIFIER_PLAINTEXT) {
        if (pass.typed) typedPassphrases.set(this.file, pass.value);
        await this.remember(doc.kdf, key, pass.value);
        return key;
      }
      typedPassphrases.delete(this.file);
      if (!pass.typed || attempt >= 3) throw this.wrongPassphrase();
      process.stderr.write('wrong passphrase, try again\n');
    }
  }

  /** Writes the unlock cache once per process per key (later unlocks read it back). */
  private async remember(kdf: Kdf, key: Buffer, passphrase: string): Promise<void> {
    const id = `${this.file}|${kdf.salt}`;
    if (remembered.has(id)) return;
    remembered.add(id);
    await rememberUnlockedKey(this.source.env, this.file, kdf, key, passphrase);
  }

  /**
   * Key material for a file about to be created: a new salt and the key from a new passphrase
   * (confirmed when typed). Shared by concurrent set() calls of this process, so they agree.
   */
  private create(): Promise<{ kdf: Kdf; key: Buffer }> {
    let pending = creating.get(this.file);
    if (!pending) {
      pending = (async () => {
        const pass = await this.passphrase(true);
        if ([...pass.value].length < MIN_PASSPHRASE_LENGTH) {
          throw usageError(
            `the passphrase for a new encrypted secret file must be at least ${MIN_PASSPHRASE_LENGTH} characters (it has ${[...pass.value].length})`,
            pass.typed ? 'type a longer one, e.g. four random words' : `set ${PASSPHRASE_ENV} to a longer one, e.g. four random words`,
          );
        }
        const kdf: Kdf = { name: 'scrypt', ...KDF_DEFAULTS, salt: randomBytes(16).toString('base64') };
        const key = await deriveKey(pass.value, kdf);
        if (pass.typed) typedPassphrases.set(this.file, pass.value);
        await this.remember(kdf, key, pass.value);
        return { kdf, key };
      })();
      creating.set(this.file, pending);
      pending.catch(() => creating.delete(this.file));
    }
    return pending;
  }

  /**
   * The file under a fresh salt and today's scrypt parameters: every entry decrypted with the old
   * key and sealed again with the new one. Runs under the file lock, with the passphrase that
   * just unlocked the file (from the environment, or typed and cached).
   */
  private async reencrypt(old: SecretFileV1, oldKey: Buffer): Promise<{ doc: SecretFileV1; key: Buffer }> {
    const pass = await this.passphrase(false);
    const kdf: Kdf = { name: 'scrypt', ...KDF_DEFAULTS, salt: randomBytes(16).toString('base64') };
    const key = await deriveKey(pass.value, kdf);
    await this.remember(kdf, key, pass.value);
    const entries: Record<string, Sealed> = {};
    for (const [account, sealed] of Object.entries(old.entries)) {
      const value = open(oldKey, sealed, entryAad(account));
      if (value === null) throw corrupt(this.file, `entry "${account}" fails authentication (altered?)`);
      entries[account] = seal(key, value, entryAad(account));
    }
    return { doc: { version: 1, kdf, verifier: seal(key, VERIFIER_PLAINTEXT, VERIFIER_AAD), entries }, key };
  }

  /** True when the file holds an entry of that name (needs no passphrase). */
  async hasEntry(account: string): Promise<boolean> {
    const doc = await readDoc(this.file);
    return !!doc && Object.hasOwn(doc.entries, account);
  }

  async get(account: string): Promise<string | null> {
    assertAccount(account);
    const doc = await readDoc(this.file);
    const sealed = doc && Object.hasOwn(doc.entries, account) ? doc.entries[account] : undefined;
    if (!doc || !sealed) return null;
    const value = open(await this.unlock(doc), sealed, entryAad(account));
    if (value === null) throw corrupt(this.file, `entry "${account}" fails authentication (altered?)`);
    registerSecret(value);
    return value;
  }

  async set(account: string, value: string): Promise<void> {
    assertAccount(account);
    registerSecret(value);
    // Ask for the passphrase before taking the lock (a prompt may take a while).
    const before = await readDoc(this.file);
    const fresh = before ? null : await this.create();
    if (before) await this.unlock(before);
    await withFileLock(this.file, async () => {
      let doc = await readDoc(this.file);
      let key: Buffer;
      if (doc) {
        key = await this.unlock(doc); // cached, unless another process created the file meanwhile
      } else {
        const made = fresh ?? (await this.create());
        key = made.key;
        doc = { version: 1, kdf: made.kdf, verifier: seal(key, VERIFIER_PLAINTEXT, VERIFIER_AAD), entries: {} };
      }
      if (outdated(doc.kdf)) ({ doc, key } = await this.reencrypt(doc, key));
      doc.entries[account] = seal(key, value, entryAad(account));
      await writeDoc(this.file, doc);
    });
  }

  async delete(account: string): Promise<boolean> {
    assertAccount(account);
    if (!(await this.hasEntry(account))) return false;
    return withFileLock(this.file, async () => {
      const doc = await readDoc(this.file);
      if (!doc || !Object.hasOwn(doc.entries, account)) return false;
      delete doc.entries[account];
      await writeDoc(this.file, doc);
      return true;
    });
  }

  async list(prefix: string): Promise<string[]> {
    assertPrefix(prefix, true);
    const doc = await readDoc(this.file);
    return doc ? Object.keys(doc.entries).filter((a) => a.startsWith(prefix)).sort() : [];
  }

  async deleteAll(prefix: string): Promise<number> {
    assertPrefix(prefix, false);
    if ((await this.list(prefix)).length === 0) return 0;
    return withFileLock(this.file, async () => {
      const doc = await readDoc(this.file);
      if (!doc) return 0;
      const doomed = Object.keys(doc.entries).filter((a) => a.startsWith(prefix));
      for (const a of doomed) delete doc.entries[a];
      if (doomed.length) await writeDoc(this.file, doc);
      return doomed.length;
    });
  }
}

/** Test seam: forget derived keys and typed passphrases. */
export function clearFileStoreCaches(): void {
  keyCache.clear();
  typedPassphrases.clear();
  creating.clear();
  unlocking.clear();
  remembered.clear();
}

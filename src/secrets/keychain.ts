import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import { credentialsError } from '../ground/errors.js';
import { SERVICE } from './keys.js';
import { registerSecret } from '../ground/redact.js';
import type { SecretStore } from './store.js';
import { assertAccount, assertPrefix, isInternalAccount } from './validate.js';

/**
 * OS keychain backend on @napi-rs/keyring: macOS Keychain, Windows Credential Manager, and on
 * Linux/BSD the Secret Service over D-Bus (gnome-keyring, KWallet, KeePassXC).
 *
 * The native module is loaded lazily, on the first probe or store call, so commands that never
 * touch secrets (--help, version, ...) don't pay for it, and a failed optional install only costs
 * the keychain (the encrypted file takes over).
 *
 * On Linux every entry is pinned to the Secret Service: without the pin, @napi-rs/keyring falls
 * back silently to the kernel keyring, where secrets live in kernel memory only and expire.
 */

/** The subset of @napi-rs/keyring used here (declared locally so building never needs the optional module). */
interface NapiAsyncEntry {
  setPassword(password: string): Promise<void>;
  getPassword(): Promise<string | null>;
  deleteCredential(): Promise<boolean>;
}
interface NapiKeyring {
  AsyncEntry: new (service: string, username: string, options?: { linux?: { store?: 'secret-service' | 'keyutils' } }) => NapiAsyncEntry;
  findCredentialsAsync(service: string): Promise<Array<{ account: string; password: string }>>;
}

const USES_SECRET_SERVICE = process.platform !== 'darwin' && process.platform !== 'win32';
const ENTRY_OPTIONS = { linux: { store: 'secret-service' as const } };
const INDEX_ACCOUNT = '__index__';
const OP_TIMEOUT_MS = 60_000; // long enough for a desktop unlock prompt
export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;

let moduleSpecifier = '@napi-rs/keyring';
let loading: Promise<NapiKeyring | Error> | undefined;

/** Loads @napi-rs/keyring once per process; resolves the load error instead of throwing. */
export function loadKeyring(): Promise<NapiKeyring | Error> {
  loading ??= import(moduleSpecifier).then(
    (m: { default?: NapiKeyring } & Partial<NapiKeyring>) => {
      const mod = (typeof m.AsyncEntry === 'function' ? m : m.default) as NapiKeyring | undefined;
      if (!mod || typeof mod.AsyncEntry !== 'function') return new Error(`${moduleSpecifier} has no AsyncEntry export`);
      return mod;
    },
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  return loading;
}

/** Test seam: load a different module instead of @napi-rs/keyring (e.g. a missing one). */
export function setKeyringModuleForTests(specifier: string): void {
  moduleSpecifier = specifier;
  loading = undefined;
}

export function keychainDescription(): string {
  if (process.platform === 'darwin') return 'OS keychain (macOS Keychain)';
  if (process.platform === 'win32') return 'OS keychain (Windows Credential Manager)';
  return 'OS keychain (Secret Service via D-Bus)';
}

function reachableReason(): string {
  if (process.platform === 'darwin') return 'macOS Keychain reachable';
  if (process.platform === 'win32') return 'Windows Credential Manager reachable';
  return 'Secret Service reachable';
}

class TimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? '').trim();
}

const isLockedError = (msg: string) => /locked|unlock prompt|dismissed/i.test(msg);

/** True when the session bus can be found at all: $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus. */
function sessionBusConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.DBUS_SESSION_BUS_ADDRESS) return true;
  if (!env.XDG_RUNTIME_DIR) return false;
  try {
    return statSync(path.join(env.XDG_RUNTIME_DIR, 'bus')).isSocket();
  } catch {
    return false;
  }
}

/** Turns a keychain failure into a short reason a user can act on. */
export function describeKeychainFailure(e: unknown, env: NodeJS.ProcessEnv): string {
  const msg = firstLine(e);
  if (e instanceof TimeoutError) return `the OS keychain did not answer (${msg}; an unlock prompt may be waiting)`;
  if (isLockedError(msg)) return `the OS keychain is locked (${msg})`;
  if (USES_SECRET_SERVICE) {
    if (/ServiceUnknown|not provided by any \.service|org\.freedesktop\.secrets/i.test(msg)) {
      return `no Secret Service on the D-Bus session bus (${msg})`;
    }
    if (/d-?bus/i.test(msg)) {
      return env.DBUS_SESSION_BUS_ADDRESS
        ? `D-Bus session bus unreachable at DBUS_SESSION_BUS_ADDRESS=${env.DBUS_SESSION_BUS_ADDRESS} (${msg})`
        : `no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset; ${msg})`;
    }
  }
  if (/AccessDenied|access denied/i.test(msg)) return `access to the OS keychain was denied (${msg})`;
  return `the OS keychain failed (${msg})`;
}

export type ProbeResult = { ok: true; reason: string } | { ok: false; reason: string };

/**
 * A real round trip (set, get, delete of a random probe entry). get alone proves nothing: a locked
 * keyring may answer null as if the entry were absent.
 */
export async function probeKeychain(env: NodeJS.ProcessEnv, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  if (USES_SECRET_SERVICE && !sessionBusConfigured(env)) {
    return { ok: false, reason: 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)' };
  }
  const mod = await loadKeyring();
  if (mod instanceof Error) {
    return { ok: false, reason: `@napi-rs/keyring is not installed (optional dependency; ${firstLine(mod)})` };
  }
  const account = `__probe__/${process.pid}-${randomBytes(6).toString('hex')}`;
  const value = randomBytes(18).toString('base64url');
  let entry: NapiAsyncEntry | undefined;
  let written = false;
  try {
    entry = new mod.AsyncEntry(SERVICE, account, ENTRY_OPTIONS); // throws at once when D-Bus is missing
    await withTimeout(entry.setPassword(value), timeoutMs, 'keychain probe');
    written = true;
    const got = await withTimeout(entry.getPassword(), timeoutMs, 'keychain probe');
    const deleted = await withTimeout(entry.deleteCredential(), timeoutMs, 'keychain probe');
    written = false;
    if (got !== value) return { ok: false, reason: 'the OS keychain did not return a value just written to it (locked keyring?)' };
    if (!deleted) return { ok: false, reason: 'the OS keychain lost a value just written to it' };
    return { ok: true, reason: reachableReason() };
  } catch (e) {
    if (written && entry) await entry.deleteCredential().catch(() => false);
    return { ok: false, reason: describeKeychainFailure(e, env) };
  }
}

/** Read-through companion: the encrypted file, consulted for entries written while the keychain was unusable. */
export interface FallbackStore {
  hasEntry(account: string): Promise<boolean>;
  get(account: string): Promise<string | null>;
  delete(account: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
}

export class KeychainStore implements SecretStore {
  readonly backend = 'keychain' as const;
  readonly description = keychainDescription();
  readonly reason: string;
  private readonly mod: NapiKeyring;
  private readonly env: NodeJS.ProcessEnv;
  private readonly fallback: FallbackStore | undefined;
  private indexQueue: Promise<unknown> = Promise.resolve();

  constructor(mod: NapiKeyring, reason: string, env: NodeJS.ProcessEnv, fallback?: FallbackStore) {
    this.mod = mod;
    this.reason = reason;
    this.env = env;
    this.fallback = fallback;
  }

  private async call<T>(op: string, account: string, f: (entry: NapiAsyncEntry) => Promise<T>): Promise<T> {
    try {
      const entry = new this.mod.AsyncEntry(SERVICE, account, ENTRY_OPTIONS);
      return await withTimeout(f(entry), OP_TIMEOUT_MS, `keychain ${op}`);
    } catch (e) {
      const reason = describeKeychainFailure(e, this.env);
      const what = isInternalAccount(account) ? 'the secret index' : `"${account}"`;
      throw credentialsError(
        `could not ${op} ${what} in the ${this.description}: ${reason}`,
        isLockedError(reason)
          ? 'unlock your keychain (log in to the desktop session, or run `gnome-keyring-daemon --unlock`), or set CRAWL4AI_MCP_SECRET_BACKEND=file'
          : 'set CRAWL4AI_MCP_SECRET_BACKEND=file to keep secrets in the encrypted file instead',
        e,
      );
    }
  }

  async get(account: string): Promise<string | null> {
    assertAccount(account);
    let value = await this.call('read', account, (e) => e.getPassword());
    if (value === null && this.fallback && (await this.fallback.hasEntry(account))) {
      value = await this.fallback.get(account);
    }
    registerSecret(value);
    return value;
  }

  async set(account: string, value: string): Promise<void> {
    assertAccount(account);
    registerSecret(value);
    await this.call('store', account, (e) => e.setPassword(value));
    await this.updateIndex((s) => s.add(account)).catch(() => undefined); // see updateIndex
    // A copy left in the file from a time without keychain would be stale now.
    if (this.fallback && (await this.fallback.hasEntry(account))) await this.fallback.delete(account);
  }

  async delete(account: string): Promise<boolean> {
    assertAccount(account);
    const deleted = await this.call('delete', account, (e) => e.deleteCredential());
    await this.updateIndex((s) => s.delete(account)).catch(() => undefined);
    const inFile = this.fallback ? await this.fallback.delete(account) : false;
    return deleted || inFile;
  }

  async list(prefix: string): Promise<string[]> {
    assertPrefix(prefix, true);
    const names = new Set(await this.readIndex());
    // The index can miss entries written concurrently by two processes; enumerate as well where the
    // platform can (Secret Service, macOS, Windows). Best effort: a failure here is not fatal.
    try {
      const found = await withTimeout(this.mod.findCredentialsAsync(SERVICE), OP_TIMEOUT_MS, 'keychain search');
      for (const c of found) names.add(c.account);
    } catch {
      /* the index alone */
    }
    if (this.fallback) for (const a of await this.fallback.list(prefix)) names.add(a);
    return [...names].filter((a) => a.startsWith(prefix) && !isInternalAccount(a)).sort();
  }

  async deleteAll(prefix: string): Promise<number> {
    assertPrefix(prefix, false);
    let count = 0;
    for (const account of await this.list(prefix)) {
      if (await this.delete(account)) count++;
    }
    return count;
  }

  private async readIndex(): Promise<string[]> {
    const raw = await this.call('read', INDEX_ACCOUNT, (e) => e.getPassword());
    if (!raw) return [];
    try {
      const parsed = JSON.parse(raw) as { accounts?: unknown };
      return Array.isArray(parsed.accounts) ? parsed.accounts.filter((a): a is string => typeof a === 'string') : [];
    } catch {
      return [];
    }
  }

  /**
   * The index entry lists account names (never values); updates are serialized within this process.
   * Callers treat a failed update as non-fatal: the secret itself is stored, and list() also
   * enumerates the keychain (an index can outgrow Windows' 2.5 KB credential limit, for instance).
   */
  private updateIndex(change: (s: Set<string>) => void): Promise<void> {
    const run = this.indexQueue.then(async () => {
      const before = await this.readIndex();
      const set = new Set(before);
      change(set);
      if (set.size === before.length && before.every((a) => set.has(a))) return;
      const accounts = [...set].sort();
      if (accounts.length === 0) await this.call('update', INDEX_ACCOUNT, (e) => e.deleteCredential());
      else await this.call('update', INDEX_ACCOUNT, (e) => e.setPassword(JSON.stringify({ v: 1, accounts })));
    });
    this.indexQueue = run.catch(() => undefined);
    return run;
  }
}

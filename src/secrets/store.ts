import { credentialsError, usageError } from '../ground/errors.js';
import { secretsFile } from '../ground/paths.js';
import { FileStore, PASSPHRASE_ENV, clearFileStoreCaches } from './file-store.js';
import { DEFAULT_PROBE_TIMEOUT_MS, KeychainStore, loadKeyring, probeKeychain, type ProbeResult } from './keychain.js';
import { promptPassphrase } from './prompt.js';
import { registerSecret } from '../ground/redact.js';

export { promptPassphrase };

/**
 * Where secrets live: the OS keychain when it works, else an encrypted file.
 *
 *   CRAWL4AI_MCP_SECRET_BACKEND = auto (default) | keychain | file
 *   CRAWL4AI_MCP_PASSPHRASE     = passphrase of the encrypted file (else a prompt, in a terminal)
 *   CRAWL4AI_MCP_HOME           = moves the file (see ground/paths.ts)
 *
 * Every value read or written, and every passphrase, is registered with redact.registerSecret.
 */
export type SecretBackendName = 'keychain' | 'file';

export interface SecretStore {
  readonly backend: SecretBackendName;
  /** for messages: "OS keychain (Secret Service via D-Bus)", "encrypted file ~/.config/crawl4ai-mcp/secrets.enc.json" */
  readonly description: string;
  /** why this backend was chosen (same as detectSecretBackend().reason) */
  readonly reason: string;
  /** null when absent (never because a keyring is locked: that throws). Registers the value for redaction. */
  get(account: string): Promise<string | null>;
  /** Registers the value for redaction. */
  set(account: string, value: string): Promise<void>;
  /** true when something was deleted */
  delete(account: string): Promise<boolean>;
  /** account names under a prefix ("" or ending in "/", e.g. deploymentPrefix(name)), sorted */
  list(prefix: string): Promise<string[]>;
  /** deletes every account under a non-empty prefix ending in "/"; returns how many */
  deleteAll(prefix: string): Promise<number>;
}

export interface BackendChoice {
  backend: SecretBackendName;
  reason: string;
}

export const SECRET_BACKEND_ENV = 'CRAWL4AI_MCP_SECRET_BACKEND';

function requestedBackend(env: NodeJS.ProcessEnv): 'auto' | SecretBackendName {
  const raw = (env[SECRET_BACKEND_ENV] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'auto') return 'auto';
  if (raw === 'keychain' || raw === 'file') return raw;
  throw usageError(`${SECRET_BACKEND_ENV}=${env[SECRET_BACKEND_ENV]} is not a secret backend`, 'use keychain, file or auto');
}

/** One keychain probe per process and bus. */
const probes = new Map<string, Promise<ProbeResult>>();

function probeOnce(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ProbeResult> {
  const id = `${env.DBUS_SESSION_BUS_ADDRESS ?? ''}|${env.XDG_RUNTIME_DIR ?? ''}`;
  let probe = probes.get(id);
  if (!probe) {
    probe = probeKeychain(env, timeoutMs);
    probes.set(id, probe);
  }
  return probe;
}

export interface DetectOptions {
  /** how long the keychain probe may take (a desktop may show an unlock prompt); default 30 s */
  probeTimeoutMs?: number;
}

/**
 * Picks the backend without touching any secret: honours CRAWL4AI_MCP_SECRET_BACKEND, else probes
 * the keychain with a set+get+delete round trip of a random entry (~50 ms; cached per process).
 * Throws a CliError (usage) for a bad CRAWL4AI_MCP_SECRET_BACKEND value, and a CliError
 * (credentials) when the keychain is forced but unusable. On Linux the probe talks to the
 * session bus of this process (DBUS_SESSION_BUS_ADDRESS of `env` decides only whether there is one).
 */
export async function detectSecretBackend(env: NodeJS.ProcessEnv = process.env, opts: DetectOptions = {}): Promise<BackendChoice> {
  const requested = requestedBackend(env);
  if (requested === 'file') return { backend: 'file', reason: `${SECRET_BACKEND_ENV}=file` };
  const probe = await probeOnce(env, opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS);
  if (requested === 'keychain') {
    if (probe.ok) return { backend: 'keychain', reason: `${SECRET_BACKEND_ENV}=keychain; ${probe.reason}` };
    throw credentialsError(
      `${SECRET_BACKEND_ENV}=keychain but the OS keychain is unusable: ${probe.reason}`,
      'unlock or start your keychain (on Linux a Secret Service such as gnome-keyring on the D-Bus session bus), or unset ' +
        `${SECRET_BACKEND_ENV} to fall back to the encrypted file`,
    );
  }
  return { backend: probe.ok ? 'keychain' : 'file', reason: probe.reason };
}

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  /** prompts allowed (a terminal, no --yes) */
  interactive: boolean;
  /** asks for the file passphrase; defaults to promptPassphrase when interactive */
  promptPassphrase?: (confirm: boolean) => Promise<string>;
  probeTimeoutMs?: number;
}

/**
 * Opens the chosen store. Never asks for the passphrase by itself: the file backend asks on the
 * first get/set that needs the key (list/delete/deleteAll never need it).
 * With the keychain chosen, entries left in an existing encrypted file (written at a time the
 * keychain was unusable) stay readable, and delete/deleteAll/list cover both.
 */
export async function openSecretStore(opts: OpenOptions): Promise<SecretStore> {
  const env = opts.env ?? process.env;
  registerSecret(env[PASSPHRASE_ENV]);
  const choice = await detectSecretBackend(env, opts.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: opts.probeTimeoutMs });
  const prompt = opts.promptPassphrase ?? (opts.interactive ? promptPassphrase : undefined);
  const file = new FileStore(secretsFile(env), { env, interactive: opts.interactive, prompt }, choice.reason);
  if (choice.backend === 'file') return file;
  const mod = await loadKeyring();
  if (mod instanceof Error) throw mod; // unreachable: the probe succeeded with this module
  return new KeychainStore(mod, choice.reason, env, file);
}

/** Test seam: forget probe results, derived keys and typed passphrases. */
export function resetSecretStoreCaches(): void {
  probes.clear();
  clearFileStoreCaches();
}

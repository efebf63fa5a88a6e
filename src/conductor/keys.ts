/**
 * The client of the Worker's admin API (`keys`, `dashboard`, `status` usage totals). New keys are
 * made here and only their SHA-256 is sent, so an MCP key never crosses the network except in the
 * requests that use it.
 */
import { CliError, credentialsError, ExitCode, notFoundError, usageError } from '../ground/errors.js';
import { generateApiKey, hashApiKey } from '../ground/api-key.js';
import { deploymentSecret } from '../secrets/keys.js';
import type { SecretStore } from '../secrets/store.js';
import type { DeploymentState } from '../state/schema.js';
import type { KeyInfo } from '../model/keys.js';
import type { OriginMemory } from './size-advice.js';

export type { KeyInfo, KeyUsage } from '../model/keys.js';

/** One of Crawl4AI's log lines as the Worker's `GET /admin/origin/logs` returns it (src/worker/origin-logs.ts). */
export interface OriginLogLine {
  time: string;
  source: 'errors' | 'janitor';
  text: string;
}

export interface NewKeySettings {
  name: string;
  tools?: string[];
  rpm?: number;
  daily?: number;
  expiresInSeconds?: number;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "30d", "24h", "90m", "3600s" (or plain seconds) → seconds; undefined when not a duration. */
export function parseDurationSeconds(text: string): number | undefined {
  const m = /^(\d{1,9})\s*([smhdw]?)$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * UNITS[(m[2] || 's').toLowerCase()]!;
  return n > 0 ? n : undefined;
}

export interface AdminTarget {
  url: string;
  adminKey: string;
}

/** Where the deployment's admin API is and the key it takes (from the state file and secret store). */
export async function adminTarget(state: DeploymentState, secrets: SecretStore): Promise<AdminTarget> {
  if (!state.worker?.url) throw notFoundError(`deployment "${state.name}" has no Worker yet`, `finish it with: crawl4ai-mcp init --name ${state.name}`);
  const adminKey = await secrets.get(deploymentSecret(state.name, 'admin-key'));
  if (!adminKey) {
    throw credentialsError(
      `the admin key of deployment "${state.name}" is not in the ${secrets.description}`,
      `deployments made before admin keys existed get one when you re-run \`crawl4ai-mcp init --name ${state.name}\` on this machine`,
    );
  }
  return { url: state.worker.url.replace(/\/+$/, ''), adminKey };
}

export class AdminClient {
  constructor(
    private readonly target: AdminTarget,
    private readonly timeoutMs = 15_000,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.target.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.target.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new CliError(`could not reach the Worker at ${this.target.url} (${(e as Error).message})`, { hint: 'check your network; `crawl4ai-mcp status` shows whether the Worker answers', cause: e });
    }
    const text = await res.text();
    let j: { message?: string; error?: string } & Record<string, unknown> = {};
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      /* not JSON */
    }
    if (res.ok) return j as T;
    const message = j.message ?? (j as { error_description?: string }).error_description ?? `HTTP ${res.status}`;
    if (res.status === 401) throw credentialsError('the Worker refused the admin key', `re-run \`crawl4ai-mcp init\` on the machine that deployed it to redeploy the Worker with this machine's admin key`);
    if (res.status === 404 && j.error === 'not_found' && /no admin key/.test(message)) {
      throw notFoundError('this Worker has no admin API yet (deployed before admin keys existed)', 're-run `crawl4ai-mcp init` to redeploy the Worker; it keeps your VM and keys');
    }
    if (res.status === 404) throw notFoundError(message, '`crawl4ai-mcp keys list` shows the active keys');
    if (res.status === 400 || res.status === 409) throw usageError(message, res.status === 409 ? 'choose another --name, or `keys rotate` the existing key' : 'see `crawl4ai-mcp keys create --help`');
    throw new CliError(`the Worker's admin API answered ${res.status}: ${message}`, { exitCode: ExitCode.failed, hint: 'retry; `crawl4ai-mcp status` checks the Worker' });
  }

  list(includeRevoked = false): Promise<{ keys: KeyInfo[] }> {
    return this.call('GET', `/admin/keys${includeRevoked ? '?revoked=1' : ''}`);
  }

  /** Makes the key here and registers its hash; the key is returned to be shown once. */
  async create(s: NewKeySettings): Promise<{ key: KeyInfo; apiKey: string }> {
    const apiKey = generateApiKey();
    const r = await this.call<{ key: KeyInfo }>('POST', '/admin/keys', {
      name: s.name,
      hash: await hashApiKey(apiKey),
      ...(s.tools ? { tools: s.tools } : {}),
      ...(s.rpm !== undefined ? { rpm: s.rpm } : {}),
      ...(s.daily !== undefined ? { daily: s.daily } : {}),
      ...(s.expiresInSeconds !== undefined ? { expires_in_seconds: s.expiresInSeconds } : {}),
    });
    return { key: r.key, apiKey };
  }

  /** Crawl4AI's recent log lines through the Worker (`logs`). */
  originLogs(lines: number): Promise<{ lines: OriginLogLine[]; unavailable?: Record<string, string> }> {
    return this.call('GET', `/admin/origin/logs?lines=${lines}`);
  }

  /** Crawl4AI's memory figures through the Worker (`status`'s size suggestion). */
  originHealth(): Promise<OriginMemory> {
    return this.call('GET', '/admin/origin/health');
  }

  /** A one-time pairing code for the OAuth consent page (claude.ai connectors). */
  pairingCode(): Promise<{ code: string; expires_at: number; ttl_seconds: number }> {
    return this.call('POST', '/admin/pairing-codes', {});
  }

  revoke(name: string): Promise<{ revoked: number }> {
    return this.call('POST', `/admin/keys/${encodeURIComponent(name)}/revoke`, {});
  }

  async rotate(name: string, graceSeconds: number): Promise<{ key: KeyInfo; apiKey: string }> {
    const apiKey = generateApiKey();
    const r = await this.call<{ key: KeyInfo }>('POST', `/admin/keys/${encodeURIComponent(name)}/rotate`, {
      hash: await hashApiKey(apiKey),
      ...(graceSeconds > 0 ? { grace_seconds: graceSeconds } : {}),
    });
    return { key: r.key, apiKey };
  }
}

/** Calls, errors and bytes over every key (for `status`). */
export function usageTotals(keys: KeyInfo[]): { keys: number; calls: number; errors: number; bytes: number; today: number } {
  const active = keys.filter((k) => k.revoked_at === null);
  return {
    keys: active.length,
    calls: keys.reduce((a, k) => a + k.usage.calls, 0),
    errors: keys.reduce((a, k) => a + k.usage.errors, 0),
    bytes: keys.reduce((a, k) => a + k.usage.bytes, 0),
    today: keys.reduce((a, k) => a + k.usage.today, 0),
  };
}

/**
 * The admin API, `/admin/...`, authenticated with the admin key (a `c4m_` key distinct from every
 * MCP key: made by `init`, kept in the user's secret store, only its SHA-256 in the Worker secret
 * ADMIN_KEY_SHA256). MCP keys are never accepted here, and the admin key is never an MCP key.
 *
 *   GET  /admin/keys                 keys with usage (?revoked=1 includes revoked ones)
 *   POST /admin/keys                 {name, hash?, tools?, rpm?, daily?, expires_in_seconds?}
 *                                    without `hash` the Worker makes the key and returns it once
 *   POST /admin/keys/<name>/revoke
 *   POST /admin/keys/<name>/rotate   {hash?, grace_seconds?}
 *   GET  /admin/usage                keys with usage plus the recent calls
 *   GET  /admin/origin/logs?lines=N  Crawl4AI's recent log lines (origin-logs.ts)
 *   GET  /admin/origin/health        Crawl4AI's memory figures (origin-health.ts)
 *   POST /admin/pairing-codes        a one-time code for the OAuth consent page (oauth/admin.ts)
 */
import { constantTimeEqual, generateApiKey, hashApiKey, isWellFormedApiKey } from '../ground/api-key.js';
import { TOOLS } from '../mcp/server.js';
import { bearerOf, json, unauthorized } from './http.js';
import type { KeyAuthEnv } from './key-auth.js';
import { registryOf } from './key-auth.js';
import { MAX_LOG_LINES, type OriginLogs } from './origin-logs.js';
import type { OriginHealth } from './origin-health.js';

/** What the admin API reads from Crawl4AI (given by the Worker, which knows the origin). */
export interface AdminOrigin {
  logs(limit: number): Promise<OriginLogs>;
  /** Crawl4AI's memory figures (GET /admin/origin/health), for `status`'s size suggestion */
  health?(): Promise<OriginHealth>;
}
import { mintPairingCode, revokeKeyNamed, type OAuthAdminEnv } from './oauth/admin.js';

export interface AdminEnv extends KeyAuthEnv, OAuthAdminEnv {
  ADMIN_KEY_SHA256?: string;
}

export const KEY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const TOOL_NAMES = new Set(TOOLS.map((t) => t.name));
const MAX_LIMIT = 1_000_000_000;

/** Is `key` the admin key? (hash compared in constant time) */
export async function isAdminKey(key: string, env: AdminEnv): Promise<boolean> {
  const want = (env.ADMIN_KEY_SHA256 ?? '').trim().toLowerCase();
  if (!want || !isWellFormedApiKey(key)) return false;
  return constantTimeEqual(await hashApiKey(key), want);
}

function bad(message: string): Response {
  return json({ error: 'invalid_request', message }, 400);
}

type Parsed<T> = { ok: true; value: T } | { ok: false; response: Response };

function optionalLimit(v: unknown, what: string): Parsed<number | null> {
  if (v === undefined || v === null) return { ok: true, value: null };
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_LIMIT) return { ok: false, response: bad(`${what} must be a whole number from 1 to ${MAX_LIMIT}`) };
  return { ok: true, value: v };
}

async function bodyOf(request: Request): Promise<Record<string, unknown> | Response> {
  if (!(request.headers.get('content-type') ?? '').toLowerCase().startsWith('application/json')) return json({ error: 'unsupported_media_type', message: 'send application/json' }, 415);
  try {
    const b = (await request.json()) as unknown;
    if (b && typeof b === 'object' && !Array.isArray(b)) return b as Record<string, unknown>;
  } catch {
    /* below */
  }
  return bad('the body must be a JSON object');
}

/** A hash sent by the caller (the CLI makes keys locally) or a key made here and returned once. */
async function keyMaterial(body: Record<string, unknown>): Promise<{ hash: string; apiKey?: string } | Response> {
  if (body.hash === undefined) {
    const apiKey = generateApiKey();
    return { hash: await hashApiKey(apiKey), apiKey };
  }
  if (typeof body.hash !== 'string' || !/^[0-9a-f]{64}$/.test(body.hash)) return bad('hash must be the SHA-256 of the key, 64 lowercase hex characters');
  return { hash: body.hash };
}

export interface CreateKeyInput {
  name?: unknown;
  tools?: unknown;
  rpm?: unknown;
  daily?: unknown;
  expires_in_seconds?: unknown;
}

/** Validates a new key's settings (shared by the admin API and the dashboard's form). */
export function parseKeySettings(b: CreateKeyInput): Parsed<{ name: string; tools: string[] | null; rpm: number | null; daily: number | null; expiresAt: number | null }> {
  if (typeof b.name !== 'string' || !KEY_NAME_RE.test(b.name)) return { ok: false, response: bad('name must be 1-64 characters: letters, digits, "_", "-", "." (starting with a letter or digit)') };
  if (b.name === 'bootstrap') return { ok: false, response: bad('"bootstrap" is the name of the key made at deploy time; choose another') };
  let tools: string[] | null = null;
  if (b.tools !== undefined && b.tools !== null) {
    if (!Array.isArray(b.tools) || b.tools.some((t) => typeof t !== 'string')) return { ok: false, response: bad('tools must be a list of tool names') };
    const unknown = (b.tools as string[]).filter((t) => !TOOL_NAMES.has(t));
    if (unknown.length > 0) return { ok: false, response: bad(`unknown tool(s): ${unknown.join(', ')}; the tools are: ${[...TOOL_NAMES].join(', ')}`) };
    tools = [...new Set(b.tools as string[])];
  }
  const rpm = optionalLimit(b.rpm, 'rpm');
  if (!rpm.ok) return rpm;
  const daily = optionalLimit(b.daily, 'daily');
  if (!daily.ok) return daily;
  const exp = optionalLimit(b.expires_in_seconds, 'expires_in_seconds');
  if (!exp.ok) return exp;
  return { ok: true, value: { name: b.name, tools, rpm: rpm.value, daily: daily.value, expiresAt: exp.value === null ? null : Date.now() + exp.value * 1000 } };
}

export async function adminRoute(request: Request, env: AdminEnv, path: string, url: URL, origin?: AdminOrigin): Promise<Response> {
  if (!env.ADMIN_KEY_SHA256) return json({ error: 'not_found', message: 'this Worker has no admin key (redeploy with `crawl4ai-mcp init` to make one)' }, 404);
  const key = bearerOf(request);
  if (key instanceof Response) return key;
  if (!(await isAdminKey(key, env))) return unauthorized('invalid_token', 'not the admin key of this deployment');
  const registry = registryOf(env);
  const parts = path.split('/').slice(2); // ['keys', name?, action?]

  if (parts[0] === 'usage' && parts.length === 1) {
    if (request.method !== 'GET') return json({ error: 'method_not_allowed' }, 405, { allow: 'GET' });
    const [keys, recent] = await Promise.all([registry.listKeys(true), registry.recentCalls(100)]);
    return json({ keys, recent });
  }
  if (parts[0] === 'origin' && parts[1] === 'logs' && parts.length === 2 && origin) {
    if (request.method !== 'GET') return json({ error: 'method_not_allowed' }, 405, { allow: 'GET' });
    const raw = url.searchParams.get('lines') ?? '100';
    const lines = Number(raw);
    if (!/^\d+$/.test(raw) || lines < 1 || lines > MAX_LOG_LINES) return bad(`lines must be a whole number from 1 to ${MAX_LOG_LINES}`);
    return json(await origin.logs(lines));
  }
  if (parts[0] === 'origin' && parts[1] === 'health' && parts.length === 2 && origin?.health) {
    if (request.method !== 'GET') return json({ error: 'method_not_allowed' }, 405, { allow: 'GET' });
    return json(await origin.health());
  }
  if (parts[0] === 'pairing-codes' && parts.length === 1) {
    if (request.method !== 'POST') return json({ error: 'method_not_allowed' }, 405, { allow: 'POST' });
    return json(await mintPairingCode(env), 201);
  }
  if (parts[0] !== 'keys') return json({ error: 'not_found', message: `no admin route ${path}` }, 404);

  if (parts.length === 1) {
    if (request.method === 'GET') return json({ keys: await registry.listKeys(url.searchParams.get('revoked') === '1') });
    if (request.method !== 'POST') return json({ error: 'method_not_allowed' }, 405, { allow: 'GET, POST' });
    const body = await bodyOf(request);
    if (body instanceof Response) return body;
    const s = parseKeySettings(body);
    if (!s.ok) return s.response;
    const material = await keyMaterial(body);
    if (material instanceof Response) return material;
    const made = await registry.createKey({ ...s.value, hash: material.hash });
    if ('error' in made) return json({ error: 'conflict', message: made.error }, 409);
    return json({ key: made, ...(material.apiKey ? { api_key: material.apiKey } : {}) }, 201);
  }

  const name = decodeURIComponent(parts[1]!);
  const action = parts[2];
  if (parts.length !== 3 || (action !== 'revoke' && action !== 'rotate')) return json({ error: 'not_found', message: `no admin route ${path}` }, 404);
  if (request.method !== 'POST') return json({ error: 'method_not_allowed' }, 405, { allow: 'POST' });
  if (action === 'revoke') {
    const n = await revokeKeyNamed(env, name);
    if (n === 0) return json({ error: 'not_found', message: `no active key named "${name}"` }, 404);
    return json({ revoked: n });
  }
  // an OAuth client holds no key to replace: its tokens name the key record
  if ((await registry.listKeys()).some((k) => k.name === name && k.source === 'oauth')) {
    return bad(`"${name}" is an OAuth client (claude.ai connector); it has no key to rotate. Revoke it and connect again instead`);
  }
  const body = await bodyOf(request);
  if (body instanceof Response) return body;
  const grace = body.grace_seconds === undefined ? { ok: true as const, value: 0 } : optionalLimit(body.grace_seconds, 'grace_seconds');
  if (!grace.ok) return grace.response;
  const material = await keyMaterial(body);
  if (material instanceof Response) return material;
  const made = await registry.rotateKey(name, material.hash, (grace.value ?? 0) * 1000);
  if ('error' in made) return json({ error: 'not_found', message: made.error }, 404);
  return json({ key: made, ...(material.apiKey ? { api_key: material.apiKey } : {}) });
}

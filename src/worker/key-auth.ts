/**
 * MCP API-key checks on the request path, kept to one Durable Object round trip:
 *
 * - a request that calls tools goes to `KeyRegistry.admit`, which verifies the key and checks and
 *   counts its rate limit and daily quota in one go (never cached: limits must be exact); the same
 *   round trip carries earlier calls' usage records (usage-outbox.ts). For a key in the cache
 *   below, the Worker starts the SDK's work while admit is on its way (index.ts, serveMcp);
 * - any other request (initialize, tools/list, notifications, GET /status) may use a verified key
 *   remembered by this isolate for at most CACHE_TTL_MS. That is the revocation bound for those
 *   requests; a revoked or expired key's tool calls are refused at once.
 */
import { hashApiKey, isWellFormedApiKey } from '../ground/api-key.js';
import type { KeyGrant, KeyRegistry } from './key-registry.js';
import { bearerOf, json, unauthorized } from './http.js';
import { takeUsage } from './usage-outbox.js';

/** How long an isolate trusts a key it verified (README: "revocation takes effect within 5 s"). */
export const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 1_000;

export interface KeyAuthEnv {
  KEYS: DurableObjectNamespace<KeyRegistry>;
  BOOTSTRAP_KEY_SHA256?: string;
}

const verified = new Map<string, { grant: KeyGrant; until: number }>();

// The registry's id, derived once per namespace: idFromName hashes the name on every call, a
// measurable share of a tool call's path. (An id is plain data; the stub made from it is not
// cached, since a stub belongs to the request that made it.)
const registryIds = new WeakMap<object, DurableObjectId>();

export function registryOf(env: KeyAuthEnv): DurableObjectStub<KeyRegistry> {
  let id = registryIds.get(env.KEYS);
  if (!id) registryIds.set(env.KEYS, (id = env.KEYS.idFromName('registry')));
  return env.KEYS.get(id);
}

// SHA-256 of the bearer keys this isolate has seen (a key's hash never changes): a client sends
// the same key on every call, and hashing it each time is a measurable share of the hot path. The
// map lives only in the isolate's memory, like the request that carried the key.
const hashes = new Map<string, string>();

/** The SHA-256 of the request's well-formed bearer key, or the 401 to answer (no registry call). */
export async function hashedBearer(request: Request): Promise<string | Response> {
  const key = bearerOf(request);
  if (key instanceof Response) return key;
  const known = hashes.get(key);
  if (known) return known;
  if (!isWellFormedApiKey(key)) return unauthorized('invalid_token', 'malformed API key (expected c4m_ followed by 43 characters)');
  const hash = await hashApiKey(key);
  if (hashes.size >= CACHE_MAX) hashes.clear();
  hashes.set(key, hash);
  return hash;
}

/** Did this isolate verify `hash` within CACHE_TTL_MS? (a hint only: tool calls are still admitted by the registry) */
export function recentlyVerified(hash: string): boolean {
  const hit = verified.get(hash);
  return !!hit && hit.until > Date.now();
}

function remember(hash: string, grant: KeyGrant, now: number): void {
  if (verified.size >= CACHE_MAX) verified.clear();
  verified.set(hash, { grant, until: now + CACHE_TTL_MS });
}

/**
 * The caller's key for a request that calls `toolCalls` tools (0: none), or the Response refusing
 * it: 401 for an unknown, revoked or expired key, 429 with Retry-After over a limit.
 */
export async function authorize(
  request: Request,
  env: KeyAuthEnv,
  toolCalls: number,
  rpcId: string | number | null = null,
  knownHash?: string,
): Promise<KeyGrant | Response> {
  const hash = knownHash ?? (await hashedBearer(request));
  if (hash instanceof Response) return hash;
  const now = Date.now();
  if (toolCalls === 0) {
    const hit = verified.get(hash);
    if (hit && hit.until > now) return hit.grant;
    const check = await registryOf(env).verify(hash, env.BOOTSTRAP_KEY_SHA256);
    if (!check.ok) {
      verified.delete(hash);
      return unauthorized('invalid_token', check.reason === 'expired' ? 'this API key has expired' : 'unknown or revoked API key');
    }
    const grant: KeyGrant = { id: check.id ?? 'unknown', name: check.name ?? 'unknown', tools: check.tools ?? null };
    remember(hash, grant, now);
    return grant;
  }
  // the round trip also carries finished calls' usage (usage-outbox.ts), whatever its answer
  const a = await registryOf(env).admit(hash, env.BOOTSTRAP_KEY_SHA256, toolCalls, takeUsage());
  if (a.ok) {
    remember(hash, a.grant, now);
    return a.grant;
  }
  verified.delete(hash);
  if (a.status === 401) return unauthorized('invalid_token', a.reason);
  // JSON-RPC error body so MCP clients show the message; the status and Retry-After are HTTP's
  return json({ jsonrpc: '2.0', id: rpcId, error: { code: -32029, message: a.message, data: { retry_after_seconds: a.retryAfterSeconds } } }, 429, {
    'retry-after': String(a.retryAfterSeconds),
  });
}

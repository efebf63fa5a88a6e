/**
 * The crawl4ai-mcp Worker: MCP over Streamable HTTP in front of the user's own Crawl4AI server.
 *
 *   GET  /health   public liveness: {status, name, version} and nothing else
 *   POST /mcp      MCP (both protocol eras: 2026-07-28 and, statelessly, 2025), Bearer API key
 *   GET  /status   Bearer API key: is Crawl4AI reachable through this Worker, and does it accept
 *                  the Worker's token? (used by `init`, `start`, `scale` and `status`)
 *   *              404 JSON
 *
 * Bindings: KEYS (KeyRegistry Durable Object), ORIGIN_URL var + CRAWL4AI_API_TOKEN secret, or a
 * CRAWL4AI fetcher binding (vpc_service) instead of ORIGIN_URL; BOOTSTRAP_KEY_SHA256 secret;
 * LLM_ENABLED var; optional SCREENSHOT_MAX_BYTES var (inline screenshot cap).
 */
import { createMcpHandler, type McpHttpHandler } from '@modelcontextprotocol/server';
import { hashApiKey, isWellFormedApiKey } from '../ground/api-key.js';
import { defaultToolConfig, type ToolConfig } from '../mcp/context.js';
import { bindingOrigin, OriginUnreachableError, urlOrigin, type Crawl4aiOrigin, type FetcherLike } from '../mcp/origin.js';
import { Crawl4aiClient } from '../mcp/crawl4ai.js';
import { createMcpServer, SERVER_NAME } from '../mcp/server.js';
import { KeyRegistry } from './key-registry.js';
import { refuseForeignRequest } from './request-guard.js';

export { KeyRegistry };

// NB: a Worker's main module may export only handlers and Durable Object classes.
export interface WorkerEnv {
  ORIGIN_URL?: string;
  CRAWL4AI_API_TOKEN?: string;
  BOOTSTRAP_KEY_SHA256?: string;
  LLM_ENABLED?: string;
  CRAWL4AI_MCP_VERSION?: string;
  SCREENSHOT_MAX_BYTES?: string;
  /** `dev` only: the Host values this Worker answers (DNS-rebinding guard, see request-guard.ts) */
  ALLOWED_HOSTS?: string;
  KEYS: DurableObjectNamespace<KeyRegistry>;
  /** A vpc_service (tunnel) or other fetcher binding to Crawl4AI; wins over ORIGIN_URL. */
  CRAWL4AI?: FetcherLike;
}

const REALM = 'crawl4ai-mcp';

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  });
}

function unauthorized(error: 'invalid_request' | 'invalid_token', description: string): Response {
  const challenge =
    error === 'invalid_request' ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
  return json({ error, error_description: description }, 401, { 'www-authenticate': challenge });
}

function versionOf(env: WorkerEnv): string {
  return env.CRAWL4AI_MCP_VERSION || '0.0.0';
}

function positiveInt(v: string | undefined): number | undefined {
  const n = v === undefined ? NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function originFor(env: WorkerEnv): Crawl4aiOrigin {
  if (env.CRAWL4AI) return bindingOrigin(env.CRAWL4AI, env.CRAWL4AI_API_TOKEN);
  try {
    if (!env.ORIGIN_URL) throw new OriginUnreachableError('this Worker has no Crawl4AI origin configured (ORIGIN_URL is empty)', 'redeploy with `crawl4ai-mcp init` or set the ORIGIN_URL var');
    return urlOrigin(env.ORIGIN_URL, env.CRAWL4AI_API_TOKEN);
  } catch (e) {
    const err = e instanceof OriginUnreachableError ? e : new OriginUnreachableError(String(e), 'check ORIGIN_URL');
    // tools/list keeps working; every tool call reports the misconfiguration
    return {
      label: 'unconfigured origin',
      fetch: () => Promise.reject(err),
    };
  }
}

function toolConfigFor(env: WorkerEnv): ToolConfig {
  const overrides: Partial<ToolConfig> = {
    version: versionOf(env),
    llmEnabled: /^(1|true|yes)$/i.test(env.LLM_ENABLED ?? ''),
  };
  const shot = positiveInt(env.SCREENSHOT_MAX_BYTES);
  if (shot) overrides.screenshotMaxBytes = shot;
  return defaultToolConfig(originFor(env), overrides);
}

// One handler per isolate (env is the same object for every request of an isolate).
let cached: { env: WorkerEnv; handler: McpHttpHandler } | undefined;

function handlerFor(env: WorkerEnv): McpHttpHandler {
  if (cached?.env !== env) {
    const cfg = toolConfigFor(env);
    cached = { env, handler: createMcpHandler(() => createMcpServer(cfg), { legacy: 'stateless' }) };
  }
  return cached.handler;
}

/** Crawl4AI's health as seen from here (reachable, version, token accepted); starts no crawl. */
async function originStatus(env: WorkerEnv): Promise<{ ok: boolean; version?: string; error?: string; hint?: string }> {
  try {
    const c = await new Crawl4aiClient(originFor(env), { deadline: Date.now() + 15_000 }).check();
    return { ok: c.reachable && c.token === 'accepted', ...(c.version ? { version: c.version } : {}), ...(c.error ? { error: c.error } : {}), ...(c.hint ? { hint: c.hint } : {}) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

const BEARER_RE = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The caller's key, checked against the registry; a Response when it must be refused. */
async function authenticate(request: Request, env: WorkerEnv): Promise<{ id: string; name: string } | Response> {
  const header = request.headers.get('authorization');
  if (!header) return unauthorized('invalid_request', 'missing Authorization: Bearer <API key>');
  const m = BEARER_RE.exec(header);
  if (!m) return unauthorized('invalid_token', 'the Authorization header must be "Bearer <API key>"');
  const key = m[1]!;
  if (!isWellFormedApiKey(key)) return unauthorized('invalid_token', 'malformed API key (expected c4m_ followed by 43 characters)');
  const hash = await hashApiKey(key);
  const registry = env.KEYS.get(env.KEYS.idFromName('registry'));
  const check = await registry.verify(hash, env.BOOTSTRAP_KEY_SHA256);
  if (!check.ok) return unauthorized('invalid_token', 'unknown or revoked API key');
  return { id: check.id ?? 'unknown', name: check.name ?? 'unknown' };
}

/**
 * Anything that escapes a route (a Durable Object that cannot start, a bug): the message may name
 * internals (bindings, SQL, stack frames), so the log gets it and the client only an id to quote.
 */
function internalError(e: unknown, path: string): Response {
  const correlationId = crypto.randomUUID();
  console.error(`internal error ${correlationId}:`, e instanceof Error ? (e.stack ?? e.message) : String(e));
  const message = `internal error (correlation id ${correlationId}); the Worker log has the details`;
  if (path === '/mcp') return json({ jsonrpc: '2.0', id: null, error: { code: -32603, message, data: { correlation_id: correlationId } } }, 500);
  return json({ error: 'internal_error', message, correlation_id: correlationId }, 500);
}

async function route(request: Request, env: WorkerEnv, url: URL, path: string): Promise<Response> {
  // before auth, so a rebound or cross-site request learns nothing, not even whether a key is valid
  const foreign = refuseForeignRequest(request, env);
  if (foreign) return json(foreign, 403);

  if (path === '/health') {
    if (request.method !== 'GET' && request.method !== 'HEAD') return json({ error: 'method_not_allowed' }, 405, { allow: 'GET, HEAD' });
    return json({ status: 'ok', name: SERVER_NAME, version: versionOf(env) });
  }

  if (path === '/status') {
    if (request.method !== 'GET') return json({ error: 'method_not_allowed' }, 405, { allow: 'GET' });
    const who = await authenticate(request, env);
    if (who instanceof Response) return who;
    return json({ worker: { version: versionOf(env) }, origin: await originStatus(env) });
  }

  if (path === '/mcp') {
    const who = await authenticate(request, env);
    if (who instanceof Response) return who;
    // The SDK answers protocol errors itself; anything else is caught below (never an opaque 1101).
    return await handlerFor(env).fetch(request, {
      authInfo: { token: `key:${who.id}`, clientId: who.name, scopes: [] },
    });
  }

  return json({ error: 'not_found', message: `no route for ${request.method} ${url.pathname}; the MCP endpoint is POST /mcp` }, 404);
}

export default {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    try {
      return await route(request, env, url, path);
    } catch (e) {
      return internalError(e, path);
    }
  },
};

/**
 * The crawl4ai-mcp Worker: MCP over Streamable HTTP in front of the user's own Crawl4AI server.
 *
 *   GET  /health   public liveness: {status, name, version} and nothing else
 *   POST /mcp      MCP (both protocol eras: 2026-07-28 and, statelessly, 2025), Bearer API key
 *   GET  /status   Bearer API key: is Crawl4AI reachable through this Worker, and does it accept
 *                  the Worker's token? (used by `init`, `start`, `scale` and `status`)
 *   /admin/...     the admin API (admin key): keys, scopes, limits, usage (admin-api.ts)
 *   /dashboard     the management pages, signed in with the admin key (dashboard.ts)
 *   OAuth 2.1      /.well-known/oauth-*, /authorize (consent), /oauth/token, /oauth/register, and
 *                  /mcp with an OAuth access token (oauth/provider.ts; API keys bypass it)
 *   *              404 JSON
 *
 * Bindings: KEYS (KeyRegistry Durable Object), ORIGIN_URL var + CRAWL4AI_API_TOKEN secret, or a
 * CRAWL4AI fetcher binding (vpc_service) instead of ORIGIN_URL; BOOTSTRAP_KEY_SHA256 and ADMIN_KEY_SHA256 secrets;
 * LLM_ENABLED var; optional SCREENSHOT_MAX_BYTES var (inline screenshot cap); WAKE_* (wake.ts): the
 * stopped VM a tool call starts; GET /wake-issuer/... (wake-azure.ts, Azure only): the public OIDC
 * issuer whose tokens Entra ID trades for the wake identity's.
 */
import { defaultToolConfig, type ToolConfig } from '../mcp/context.js';
import { bindingOrigin, OriginUnreachableError, urlOrigin, type Crawl4aiOrigin, type FetcherLike } from '../mcp/origin.js';
import { Crawl4aiClient } from '../mcp/crawl4ai.js';
import { createMcpServer, SERVER_NAME, TOOLS, type ServingScope, type ToolCallHooks } from '../mcp/server.js';
import { adminRoute } from './admin-api.js';
import { mcpServing, type McpServing } from './mcp-serving.js';
import { originLogs } from './origin-logs.js';
import { originHealth } from './origin-health.js';
import { parseCostEstimate } from '../model/cost-estimate.js';
import { dashboardRoute, type MonitorHealth, type OriginFigures } from './dashboard.js';
import { json } from './http.js';
import { authorize, hashedBearer, recentlyVerified, registryOf } from './key-auth.js';
import { KeyRegistry } from './key-registry.js';
import { trackRequest, type CalledTool, type RequestUsage } from './tool-usage.js';
import { queueUsage, sendLeftUsage } from './usage-outbox.js';
import { refuseForeignRequest } from './request-guard.js';
import { containerOrigin, Crawl4aiContainer, type ContainerEnv, type ContainerNamespaceLike } from './container.js';
import { isOAuthPath, looksLikeOAuthToken, oauthProviderFor, resourceMetadataUrl, type GrantProps, type KvLike } from './oauth/provider.js';
import { consentRoute } from './oauth/consent.js';
import { wakeTargetFor, wakingOrigin, type WakeEnv } from './wake.js';
import { wakeIssuerRoute } from './wake-azure.js';

export { KeyRegistry, Crawl4aiContainer };

// NB: a Worker's main module may export only handlers and Durable Object classes.
export interface WorkerEnv extends ContainerEnv, WakeEnv {
  ORIGIN_URL?: string;
  CRAWL4AI_API_TOKEN?: string;
  BOOTSTRAP_KEY_SHA256?: string;
  /** SHA-256 of the admin key (admin API and dashboard); unset = both disabled */
  ADMIN_KEY_SHA256?: string;
  /** the plan's cost lines at deploy time, JSON (model/cost-estimate.ts), shown on the dashboard */
  COST_ESTIMATE?: string;
  LLM_ENABLED?: string;
  CRAWL4AI_MCP_VERSION?: string;
  SCREENSHOT_MAX_BYTES?: string;
  /** `dev` only: the Host values this Worker answers (DNS-rebinding guard, see request-guard.ts) */
  ALLOWED_HOSTS?: string;
  KEYS: DurableObjectNamespace<KeyRegistry>;
  /** A vpc_service (tunnel) or other fetcher binding to Crawl4AI; wins over ORIGIN_URL. */
  CRAWL4AI?: FetcherLike;
  /** provider `cloudflare`: the Crawl4AI Container's Durable Object namespace (container.ts) */
  CRAWL4AI_CONTAINER?: ContainerNamespaceLike;
  /** OAuth clients, grants and tokens (hashed), for URL-only clients such as claude.ai; unset = OAuth off */
  OAUTH_KV?: KvLike;
  /** access-token lifetime in seconds (>= 60, default 900) */
  OAUTH_ACCESS_TOKEN_TTL?: string;
}

function versionOf(env: WorkerEnv): string {
  return env.CRAWL4AI_MCP_VERSION || '0.0.0';
}

function positiveInt(v: string | undefined): number | undefined {
  const n = v === undefined ? NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function originFor(env: WorkerEnv): Crawl4aiOrigin {
  if (env.CRAWL4AI_CONTAINER) return containerOrigin(env.CRAWL4AI_CONTAINER, env);
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
  // tool calls only: /status, the dashboard and init's health checks must not start a stopped VM
  return defaultToolConfig(wakingOrigin(originFor(env), wakeTargetFor(env)), overrides);
}

// One serving per isolate (env is the same object for every request of an isolate).
let cached: { env: WorkerEnv; serving: McpServing } | undefined;

function servingFor(env: WorkerEnv): McpServing {
  if (cached?.env !== env) {
    const cfg = toolConfigFor(env);
    cached = {
      env,
      serving: mcpServing((authInfo) => createMcpServer(cfg, authInfo?.extra?.hooks as ToolCallHooks | undefined, (authInfo?.extra?.scope as ServingScope | undefined) ?? {})),
    };
  }
  return cached.serving;
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

/**
 * Crawl4AI's own figures for the dashboard: `/monitor/health` (memory, CPU, browser pool) and the
 * request total from its Prometheus `/metrics`. In public mode Caddy serves neither (404): then
 * the dashboard says they are not available.
 */
async function originFigures(env: WorkerEnv): Promise<OriginFigures> {
  const client = new Crawl4aiClient(originFor(env), { deadline: Date.now() + 10_000 });
  try {
    const [h, metrics] = await Promise.all([
      client.request<MonitorHealth>('GET', '/monitor/health', undefined, 'monitor health'),
      originFor(env)
        .fetch('/metrics', { method: 'GET', signal: AbortSignal.timeout(10_000) })
        .then((r) => (r.ok ? r.text() : ''))
        .catch(() => ''),
    ]);
    let requests: number | undefined;
    for (const line of metrics.split('\n')) {
      const m = /^http_requests_total(?:\{[^}]*\})?\s+([0-9.eE+]+)$/.exec(line.trim());
      if (m) requests = (requests ?? 0) + Number(m[1]);
    }
    return {
      memoryPercent: h.container?.memory_percent,
      cpuPercent: h.container?.cpu_percent,
      uptimeSeconds: h.container?.uptime_seconds,
      browserMemoryMb: h.pool?.total_memory_mb,
      memoryPressure: h.janitor?.memory_pressure,
      ...(requests !== undefined ? { requests } : {}),
    };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

const TOOL_NAMES = new Set(TOOLS.map((t) => t.name));

/** The tools/call messages in a POST /mcp body (a single message or a 2025-03 batch), and its id. */
function toolCallsIn(body: unknown): { calls: CalledTool[]; id: string | number | null } {
  const msgs = Array.isArray(body) ? body : [body];
  const calls: CalledTool[] = [];
  for (const m of msgs) {
    if (!m || typeof m !== 'object' || (m as { method?: unknown }).method !== 'tools/call') continue;
    const params = ((m as { params?: unknown }).params ?? {}) as { name?: unknown; arguments?: unknown };
    // a name that is no tool is stored as "(unknown)", so callers cannot fill the usage table with names
    calls.push({ tool: typeof params.name === 'string' && TOOL_NAMES.has(params.name) ? params.name : '(unknown)', args: params.arguments });
  }
  const id = !Array.isArray(body) && body && typeof body === 'object' ? (body as { id?: unknown }).id : null;
  return { calls, id: typeof id === 'string' || typeof id === 'number' ? id : null };
}

/** The SDK's own cap (DEFAULT_MAX_REQUEST_BODY_SIZE): a body over it is refused, never parsed. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The body as text, or undefined past MAX_BODY_BYTES (read no further than that). */
async function boundedText(request: Request): Promise<string | undefined> {
  const declared = request.headers.get('content-length');
  if (Number(declared ?? '0') > MAX_BODY_BYTES) return undefined;
  if (!request.body) return '';
  // A declared length bounds the body (the runtime ends it there): read it in one native step,
  // which costs less than the chunk loop below that a body of unknown length needs.
  if (declared !== null && /^\d+$/.test(declared)) return request.text();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

async function serveMcp(request: Request, env: WorkerEnv, ctx: ExecutionContext, oauthKeyHash?: string): Promise<Response> {
  // A malformed or missing key is refused before the body is read. An OAuth client (its token
  // already checked by the provider) is its key record, named by the grant.
  const hash = oauthKeyHash ?? (await hashedBearer(request));
  if (hash instanceof Response) return hash;
  // The body is read here to find tool calls (they are checked and counted before the SDK runs
  // them); the SDK gets it back parsed, so it is parsed once.
  let parsed: unknown;
  let forward = request;
  if (request.method === 'POST') {
    const text = await boundedText(request);
    if (text === undefined) {
      return json({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `Payload Too Large: Request body must not exceed ${MAX_BODY_BYTES} bytes` } }, 413);
    }
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // only a body the SDK must read itself (not JSON: it answers the parse error) is passed on
    if (parsed === undefined) forward = new Request(request, { body: text });
  }
  const { calls, id } = toolCallsIn(parsed);
  const admission = authorize(request, env, calls.length, id, hash);
  // Only a key this isolate verified lately gets the SDK's work started before its admission: an
  // unknown key costs no more than the registry's answer.
  if (calls.length === 0 || !recentlyVerified(hash)) {
    const grant = await admission;
    if (grant instanceof Response) return grant;
    const usage = calls.length > 0 ? trackRequest(grant, calls) : undefined;
    if (usage) ctx.waitUntil(recordUsage(env, usage));
    try {
      return await servingFor(env).fetch(
        forward,
        {
          authInfo: { token: `key:${grant.id}`, clientId: grant.name, scopes: grant.tools ?? [], extra: usage ? { hooks: usage.hooks, scope: callingScope(calls) } : { scope: listedFor(grant) } },
          ...(parsed !== undefined ? { parsedBody: parsed } : {}),
        },
        ctx,
      );
    } catch (e) {
      usage?.finish();
      throw e;
    }
  }
  // Tool calls: the registry's check-and-count (one Durable Object round trip) runs while the SDK
  // parses, validates and dispatches the request. Each tool waits for the admission before it runs
  // (usage.hooks.refuse), so a refused call never reaches the origin; a refused request is answered
  // with the 401/429 and the SDK's unfinished answer is dropped.
  const granted = admission.then((a) => (a instanceof Response ? Promise.reject(new Error('not admitted')) : a));
  const usage = trackRequest(granted, calls);
  const answer = servingFor(env).fetch(
    forward,
    {
      authInfo: { token: 'key', clientId: 'api-key', scopes: [], extra: { hooks: usage.hooks, scope: callingScope(calls) } },
      ...(parsed !== undefined ? { parsedBody: parsed } : {}),
    },
    ctx,
  );
  const drop = () => {
    usage.discard();
    void answer.then((r) => r.body?.cancel()).catch(() => undefined);
  };
  let grant: Awaited<typeof admission>;
  try {
    grant = await admission;
  } catch (e) {
    drop();
    throw e;
  }
  if (grant instanceof Response) {
    drop();
    return grant;
  }
  ctx.waitUntil(recordUsage(env, usage));
  // The SDK answers protocol errors itself; anything else is caught below (never an opaque 1101).
  try {
    return await answer;
  } catch (e) {
    usage.finish();
    throw e;
  }
}

/** The request's usage records, sent to the registry once its calls have settled (after the answer). */
function recordUsage(env: WorkerEnv, usage: RequestUsage): Promise<unknown> {
  return usage.done
    .then((records) => {
      if (records.length === 0) return;
      queueUsage(records); // the next admit carries them (usage-outbox.ts)...
      return sendLeftUsage(records, (left) => registryOf(env).record(left)); // ...or this request sends them
    })
    .catch((e) => console.error('usage not recorded:', e));
}

/** A scoped key's requests without tool calls (tools/list) see only its tools. */
function listedFor(grant: { tools: string[] | null }): ServingScope {
  return grant.tools ? { listed: new Set(grant.tools) } : {};
}

/** Tool calls of existing tools need only those registered; a call naming no tool gets the SDK's usual answer. */
function callingScope(calls: CalledTool[]): ServingScope {
  return calls.every((c) => TOOL_NAMES.has(c.tool)) ? { calling: new Set(calls.map((c) => c.tool)) } : {};
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

async function route(request: Request, env: WorkerEnv, ctx: ExecutionContext, url: URL, path: string): Promise<Response> {
  // before auth, so a rebound or cross-site request learns nothing, not even whether a key is valid
  const foreign = refuseForeignRequest(request, env);
  if (foreign) return json(foreign, 403);

  if (path === '/health') {
    if (request.method !== 'GET' && request.method !== 'HEAD') return json({ error: 'method_not_allowed' }, 405, { allow: 'GET, HEAD' });
    return json({ status: 'ok', name: SERVER_NAME, version: versionOf(env) });
  }

  if (path === '/status') {
    if (request.method !== 'GET') return json({ error: 'method_not_allowed' }, 405, { allow: 'GET' });
    const who = await authorize(request, env, 0);
    if (who instanceof Response) return who;
    return json({ worker: { version: versionOf(env) }, origin: await originStatus(env) });
  }

  if (path === '/mcp') return serveMcp(request, env, ctx);

  if (path === '/admin' || path.startsWith('/admin/')) return adminRoute(request, env, path, url, { logs: (n) => originLogs(originFor(env), n), health: () => originHealth(originFor(env)) });

  if (path === '/dashboard' || path.startsWith('/dashboard/')) return dashboardRoute(request, env, path, {
      version: versionOf(env),
      originHealth: () => originStatus(env),
      originFigures: () => originFigures(env),
      costEstimate: parseCostEstimate(env.COST_ESTIMATE),
    });

  return json({ error: 'not_found', message: `no route for ${request.method} ${url.pathname}; the MCP endpoint is POST /mcp` }, 404);
}

/** The OAuth provider's routes: metadata, registration, token, consent, and /mcp with an OAuth token. */
function serveOAuth(request: Request, env: WorkerEnv, ctx: ExecutionContext, url: URL): Promise<Response> {
  return oauthProviderFor(url.origin, env, {
    api: (req, e, c) => {
      const props = c.props as Partial<GrantProps> | undefined;
      if (!props?.keyHash) return Promise.resolve(json({ error: 'invalid_token', error_description: 'this grant names no key' }, 401));
      return serveMcp(req, e, c, props.keyHash);
    },
    fallback: (req, e) => {
      if (new URL(req.url).pathname === '/authorize') return consentRoute(req, e);
      return Promise.resolve(json({ error: 'not_found' }, 404));
    },
  }).fetch(request, env, ctx);
}

/** MCP clients find the OAuth metadata from a 401 (RFC 9728 §5.1), API-key 401s included. */
function withResourceMetadata(response: Response, url: URL): Response {
  const challenge = response.headers.get('www-authenticate');
  if (response.status !== 401 || !challenge || /resource_metadata=/.test(challenge)) return response;
  const headers = new Headers(response.headers);
  headers.set('www-authenticate', `${challenge}, resource_metadata="${resourceMetadataUrl(url.origin)}"`);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    try {
      // wake on request (Azure): the issuer Entra ID fetches, public in every access mode
      const issuer = wakeIssuerRoute(request, path, env);
      if (issuer) return issuer;
      if (env.OAUTH_KV && (isOAuthPath(url.pathname) || (path === '/mcp' && looksLikeOAuthToken(request)))) {
        const foreign = refuseForeignRequest(request, env);
        if (foreign && !url.pathname.startsWith('/.well-known/') && url.pathname !== '/oauth/token' && url.pathname !== '/oauth/register') return json(foreign, 403);
        return withResourceMetadata(await serveOAuth(request, env, ctx, url), url);
      }
      const r = await route(request, env, ctx, url, path);
      return env.OAUTH_KV && path === '/mcp' ? withResourceMetadata(r, url) : r;
    } catch (e) {
      return internalError(e, path);
    }
  },
};

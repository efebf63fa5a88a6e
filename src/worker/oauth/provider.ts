/**
 * The Worker as an OAuth 2.1 authorization server and protected resource, for clients that know
 * only the deployment's URL (claude.ai and Claude Desktop custom connectors, the mobile apps).
 *
 * Built on @cloudflare/workers-oauth-provider (pinned): it serves RFC 9728 protected-resource
 * metadata (also at the /mcp-suffixed path), RFC 8414 metadata, RFC 7591 registration, the token
 * endpoint (PKCE S256, RFC 8707 resource binding, rotating refresh tokens, RFC 7009 revocation)
 * and client ID metadata documents (a client_id that is the https URL of its metadata), and keeps
 * every token, code and secret only as a hash in the OAUTH_KV namespace. This module
 * only configures it; the consent page is consent.ts.
 *
 * An approved client is a key record in the KeyRegistry (source "oauth"): the grant's encrypted
 * props carry that record's id and hash, so its tool calls go through the same limits, usage and
 * revocation as an API key's. A revoked record refuses the access token at once (KeyRegistry) and
 * the refresh token at the next refresh (tokenExchangeCallback below, which also ends the grant).
 */
import { OAuthError, OAuthProvider, type OAuthHelpers } from '@cloudflare/workers-oauth-provider';
import type { KeyRegistry } from '../key-registry.js';

/** The one scope: use the MCP tools this deployment's key record allows. */
export const MCP_SCOPE = 'mcp';
export const SCOPES_SUPPORTED = [MCP_SCOPE, 'offline_access'];
export const AUTHORIZE_PATH = '/authorize';
export const TOKEN_PATH = '/oauth/token';
export const REGISTER_PATH = '/oauth/register';
/** Default access-token life: short, the client refreshes (Claude does). KV's floor is 60 s. */
const ACCESS_TOKEN_TTL_S = 900;
/** Grants idle for longer than this need the owner's approval again. */
const REFRESH_IDLE_TTL_S = 30 * 86_400;

/** What an approved grant carries (encrypted by the library with a key only the token unwraps). */
export interface GrantProps {
  keyId: string;
  /** SHA-256 that identifies the key record; no bearer key exists for it */
  keyHash: string;
}

/** Minimal KV surface this project uses (workerd's KVNamespace has more). */
export interface KvLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface OAuthEnv {
  OAUTH_KV?: KvLike;
  KEYS: DurableObjectNamespace<KeyRegistry>;
  BOOTSTRAP_KEY_SHA256?: string;
  ADMIN_KEY_SHA256?: string;
  /** access-token lifetime in seconds (at least 60); default 900 */
  OAUTH_ACCESS_TOKEN_TTL?: string;
  /** injected by the library into handlers it calls */
  OAUTH_PROVIDER?: OAuthHelpers;
}

export interface OAuthHandlers<E extends OAuthEnv> {
  /** /mcp with a valid access token; ctx.props is GrantProps */
  api(request: Request, env: E, ctx: ExecutionContext & { props?: GrantProps }): Promise<Response>;
  /** /authorize and anything else the library does not own */
  fallback(request: Request, env: E, ctx: ExecutionContext): Promise<Response>;
}

/** The canonical resource (token audience) of the deployment served at `origin`. */
export function resourceOf(origin: string): string {
  return `${origin}/mcp`;
}

export function resourceMetadataUrl(origin: string): string {
  return `${origin}/.well-known/oauth-protected-resource/mcp`;
}

/** Paths the library answers (besides /mcp with an OAuth access token). */
export function isOAuthPath(path: string): boolean {
  return path.startsWith('/.well-known/oauth-') || path === TOKEN_PATH || path === REGISTER_PATH || path === AUTHORIZE_PATH;
}

/** The library's access/refresh token format `userId:grantId:secret`; API keys never contain ':'. */
export function looksLikeOAuthToken(request: Request): boolean {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get('authorization') ?? '');
  return !!m && /^[^:\s]+:[^:\s]+:[^:\s]+$/.test(m[1]!);
}

function ttlOf(v: string | undefined): number {
  const n = Number.parseInt(v ?? '', 10);
  return Number.isFinite(n) && n >= 60 ? n : ACCESS_TOKEN_TTL_S;
}

export function registryStub(env: OAuthEnv): DurableObjectStub<KeyRegistry> {
  return env.KEYS.get(env.KEYS.idFromName('registry'));
}

// One provider per origin and lifetime: the resource URL is the Worker's own URL, known only from
// the request (workers.dev name, custom domain or `dev`'s loopback port).
const providers = new Map<string, OAuthProvider<OAuthEnv>>();

export function oauthProviderFor<E extends OAuthEnv>(origin: string, env: E, handlers: OAuthHandlers<E>): OAuthProvider<E> {
  const accessTokenTTL = ttlOf(env.OAUTH_ACCESS_TOKEN_TTL);
  const cacheKey = `${origin} ${accessTokenTTL}`;
  let p = providers.get(cacheKey);
  if (!p) {
    p = new OAuthProvider<OAuthEnv>({
      apiRoute: '/mcp',
      apiHandler: { fetch: (req: Request, e: OAuthEnv, ctx: ExecutionContext) => handlers.api(req, e as E, ctx as ExecutionContext & { props?: GrantProps }) },
      defaultHandler: { fetch: (req: Request, e: OAuthEnv, ctx: ExecutionContext) => handlers.fallback(req, e as E, ctx) },
      authorizeEndpoint: AUTHORIZE_PATH,
      tokenEndpoint: TOKEN_PATH,
      clientRegistrationEndpoint: REGISTER_PATH,
      // Client ID metadata documents (MCP authorization 2025-11-25): a client_id that is an https
      // URL is fetched and validated by the library (client_id must equal the URL, https only, 5 KB,
      // 10 s, no secrets). It refuses to run without the global_fetch_strictly_public flag, which
      // keeps that fetch on the public internet (no SSRF into the Worker's own zone): see the
      // wrangler template for why the flag is safe for this Worker's other fetches.
      clientIdMetadataDocumentEnabled: true,
      scopesSupported: SCOPES_SUPPORTED,
      requiredScopes: [MCP_SCOPE],
      resourceMetadata: {
        resource: resourceOf(origin),
        authorization_servers: [origin],
        bearer_methods_supported: ['header'],
        resource_name: 'crawl4ai-mcp',
      },
      accessTokenTTL,
      refreshTokenTTL: REFRESH_IDLE_TTL_S,
      refreshTokenIdleTTL: REFRESH_IDLE_TTL_S,
      // A revoked key record ends its grant: the refresh fails with invalid_grant and the
      // library deletes the grant, so the client must ask the owner again.
      tokenExchangeCallback: async ({ props, env: e }) => {
        const p = props as Partial<GrantProps> | undefined;
        const check = p?.keyHash ? await registryStub(e).verify(p.keyHash, e.BOOTSTRAP_KEY_SHA256) : { ok: false };
        if (!check.ok) {
          throw new OAuthError('invalid_grant', {
            description: 'the owner revoked this connection (crawl4ai-mcp keys revoke); connect again with a new pairing code',
            internal: { category: 'crawl4ai-mcp', reason: 'key_revoked' },
          });
        }
      },
      // the reason never reaches the client (RFC 6749 §5.2) but the Worker log has it
      onError: ({ code, status, internal }) => {
        console.warn(`oauth: ${status} ${code} (${internal.category}/${internal.reason})`);
      },
    } as ConstructorParameters<typeof OAuthProvider<OAuthEnv>>[0]);
    providers.set(cacheKey, p);
  }
  return p as unknown as OAuthProvider<E>;
}

/**
 * The consent page, GET/POST /authorize: server-rendered, no script (CSP), framing forbidden.
 *
 * This deployment has one owner and no accounts, so "signing in" is proving to be the owner:
 * with a one-time pairing code from `crawl4ai-mcp connect --client claude-ai` (hashed, single use,
 * 10 minutes, wrong tries rate-limited and logged: pairing-store.ts) or with the admin key.
 *
 * The owner may untick tools (default: all); the choice becomes the key record's tool allowlist,
 * which the KeyRegistry enforces on tools/call and applies to tools/list.
 *
 * The form carries the library's consent handle, bound to this browser by a __Host- cookie
 * and usable once: that is the CSRF token (a forged POST from another site has no cookie, and the
 * Worker's Origin check refuses cross-site posts before this). The authorization request itself
 * stays server-side between GET and POST, so nothing in the form can change the client, redirect
 * URI or scopes (the tool boxes can only narrow access, to names this Worker knows). Redirect URIs
 * are matched exactly by the library; before it has validated the client and redirect URI, errors
 * are rendered here and never redirected (no open redirect).
 */
import { AuthorizationError, CimdFetchError, authorizationErrorRedirect, type AuthRequest, type OAuthHelpers } from '@cloudflare/workers-oauth-provider';
import { TOOLS } from '../../mcp/server.js';
import { isAdminKey } from '../admin-api.js';
import { hashPairingCode, normalisePairingCode } from './pairing-code.js';
import { MCP_SCOPE, SCOPES_SUPPORTED, registryStub, type GrantProps, type OAuthEnv } from './provider.js';

const OWNER = 'owner';

function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function headersFor(redirectOrigin: string | undefined, base?: Headers): Headers {
  const h = new Headers(base);
  // form-action must allow the client's redirect origin: Chromium applies it to the 302 after the POST
  h.set('content-security-policy', `default-src 'none'; style-src 'self'; form-action 'self'${redirectOrigin ? ` ${redirectOrigin}` : ''}; frame-ancestors 'none'; base-uri 'none'`);
  h.set('x-content-type-options', 'nosniff');
  h.set('x-frame-options', 'DENY');
  h.set('referrer-policy', 'same-origin');
  h.set('cache-control', 'no-store');
  h.set('content-type', 'text/html; charset=utf-8');
  return h;
}

function page(title: string, body: string, status: number, headers: Headers): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · crawl4ai-mcp</title><link rel="stylesheet" href="/dashboard/style.css"></head><body><main>${body}</main></body></html>`;
  return new Response(html, { status, headers });
}

const TOOL_NAMES = TOOLS.map((t) => t.name);

/** The owner's choice of tools for this client: every box ticked (the default) means all, now and later. */
function toolsChosen(body: FormData): { ok: true; tools: string[] | null } | { ok: false; chosen: string[] } {
  const chosen = TOOL_NAMES.filter((n) => body.getAll('tool').includes(n));
  if (chosen.length === 0) return { ok: false, chosen };
  return { ok: true, tools: chosen.length === TOOL_NAMES.length ? null : chosen };
}

function toolBoxes(checked: readonly string[]): string {
  const boxes = TOOLS.map(
    (t) => `<li><label><input type="checkbox" name="tool" value="${esc(t.name)}"${checked.includes(t.name) ? ' checked' : ''}> <code>${esc(t.name)}</code> ${esc(t.title)}</label></li>`,
  ).join('');
  return `<fieldset id="tools"><legend>Tools it may use</legend><ul class="plain">${boxes}</ul></fieldset>`;
}

function form(handle: string, notice = '', checked: readonly string[] = TOOL_NAMES): string {
  return `${notice}<form method="post" action="/authorize">
<input type="hidden" name="handle" value="${esc(handle)}">
${toolBoxes(checked)}
<label for="code">Pairing code or admin key</label><br>
<input id="code" name="code" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required>
<p class="muted">Get a pairing code on your computer with <code>crawl4ai-mcp connect --client claude-ai</code>; it works once, for 10 minutes.</p>
<p><button type="submit" name="decision" value="approve">Allow</button> <button type="submit" name="decision" value="deny" formnovalidate>Deny</button></p>
</form>`;
}

function scopesOf(requested: string[]): string[] {
  const wanted = requested.filter((s) => SCOPES_SUPPORTED.includes(s));
  return [...new Set([MCP_SCOPE, ...wanted])];
}

function describeScope(s: string): string {
  if (s === MCP_SCOPE) return 'use this deployment\'s crawl tools (crawl, scrape, screenshot, …) within the limits you set with <code>crawl4ai-mcp keys</code>';
  if (s === 'offline_access') return 'stay connected (refresh its access) until you revoke it';
  return esc(s);
}

function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40) || 'client';
}

function randomHex(bytes: number): string {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** Renders an error that must not go back to the client (unvalidated client or redirect URI). */
function localError(message: string, status = 400): Response {
  return page('Cannot authorize', `<h1>Cannot authorize</h1><section role="alert"><p class="bad">${esc(message)}</p></section>`, status, headersFor(undefined));
}

async function showConsent(request: Request, oauth: OAuthHelpers): Promise<Response> {
  const authRequest = await oauth.parseAuthRequest(request);
  // OAuth 2.1 and MCP require PKCE for every client; the library requires it only of public ones
  if (!authRequest.codeChallenge || authRequest.codeChallengeMethod !== 'S256') {
    return Response.redirect(authorizationErrorRedirect(authRequest, 'invalid_request', 'PKCE with code_challenge_method=S256 is required'), 302);
  }
  const d = await oauth.describeConsent(authRequest);
  const consent = await oauth.beginConsent(authRequest);
  const scopes = scopesOf(authRequest.scope);
  const body = `<h1>Connect <span id="client-name">${esc(d.clientName)}</span> to your crawl4ai-mcp?</h1>
<section>
<p>${d.clientDomain ? `Published by <strong>${esc(d.clientDomain)}</strong>.` : 'This app registered itself; its name is not verified.'}
Access will be sent to <strong id="redirect-host">${esc(d.redirectHost)}</strong>.</p>
${d.redirectIsLoopback ? '<p class="bad"><strong>This sends access to an app on a computer.</strong> Continue only if you just started connecting from it.</p>' : ''}
<p>It will be able to:</p><ul id="scopes">${scopes.map((s) => `<li data-scope="${esc(s)}">${describeScope(s)}</li>`).join('')}</ul>
<p class="muted">It appears in <code>crawl4ai-mcp keys list</code> and the dashboard; <code>crawl4ai-mcp keys revoke &lt;name&gt;</code> cuts it off.</p>
</section>
${form(consent.handle)}`;
  return page(`Connect ${d.clientName}`, body, 200, headersFor(new URL(d.redirectUri).origin, consent.headers));
}

/** Is `typed` the admin key or a live pairing code? (a wrong code counts against the rate limit) */
async function proveOwner(typed: string, env: OAuthEnv): Promise<{ ok: true; how: string } | { ok: false; status: number; message: string }> {
  if (typed.startsWith('c4m_')) {
    if (await isAdminKey(typed, env)) return { ok: true, how: 'admin key' };
    console.warn('oauth consent: wrong admin key');
    return { ok: false, status: 403, message: 'That is not the admin key of this deployment.' };
  }
  const canonical = normalisePairingCode(typed);
  // a malformed code is counted too: otherwise garbage would be free to send
  const r = await registryStub(env).usePairingCode(await hashPairingCode(canonical ?? `invalid:${typed.slice(0, 64)}`));
  if (r.ok) return { ok: true, how: 'pairing code' };
  if (r.reason === 'rate_limited') {
    console.warn(`oauth consent: pairing code refused, too many wrong codes (retry in ${r.retryAfterSeconds} s)`);
    return { ok: false, status: 429, message: `Too many wrong codes. Wait ${r.retryAfterSeconds} seconds, then try again.` };
  }
  console.warn('oauth consent: wrong or expired pairing code');
  return { ok: false, status: 403, message: 'Wrong or expired pairing code. Make a new one with crawl4ai-mcp connect --client claude-ai.' };
}

async function decide(request: Request, env: OAuthEnv, oauth: OAuthHelpers): Promise<Response> {
  const body = await request.formData().catch(() => null);
  const handle = String(body?.get('handle') ?? '');
  if (body?.get('decision') !== 'approve') {
    const denied = await oauth.denyConsent(request, handle);
    return new Response(null, { status: 302, headers: denied.headers });
  }
  const tools = toolsChosen(body);
  if (!tools.ok) {
    return page('Not approved', `<h1>Not approved</h1>${form(handle, '<section role="alert"><p class="bad">Tick at least one tool, or press Deny.</p></section>', tools.chosen)}`, 400, headersFor(undefined));
  }
  const checked = tools.tools ?? TOOL_NAMES;
  const proof = await proveOwner(String(body.get('code') ?? '').trim(), env);
  if (!proof.ok) {
    // the handle was not used: the same page can be submitted again
    const extra = proof.status === 429 ? { 'retry-after': /(\d+) seconds/.exec(proof.message)?.[1] ?? '60' } : {};
    const h = headersFor(undefined);
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    return page('Not approved', `<h1>Not approved</h1>${form(handle, `<section role="alert"><p class="bad">${esc(proof.message)}</p></section>`, checked)}`, proof.status, h);
  }
  const approved = await oauth.approveConsent(request, handle, { scope: scopesOf([]) });
  const authRequest: AuthRequest = approved.request;
  const client = await oauth.describeConsent(authRequest);
  const scope = scopesOf(authRequest.scope);
  // the client's key record: its own limits, usage and revocation, like any API key
  const keyHash = randomHex(32);
  const made = await registryStub(env).createKey({ name: `oauth-${slug(client.clientName)}-${randomHex(3)}`, hash: keyHash, source: 'oauth', tools: tools.tools });
  if ('error' in made) throw new Error(`could not record the OAuth client as a key: ${made.error}`);
  const props: GrantProps = { keyId: made.id, keyHash };
  const { redirectTo } = await oauth.completeAuthorization({
    request: authRequest,
    userId: OWNER,
    metadata: { keyId: made.id, keyName: made.name },
    scope,
    props,
  });
  // the library revoked this client's earlier grant (revokeExistingGrants): retire its key record too
  const previous = await env.OAUTH_KV?.get(`c4m:client-key:${authRequest.clientId}`);
  if (previous && previous !== made.name) await registryStub(env).revokeKey(previous);
  await env.OAUTH_KV?.put(`c4m:key-client:${made.id}`, authRequest.clientId);
  await env.OAUTH_KV?.put(`c4m:client-key:${authRequest.clientId}`, made.name);
  console.log(`oauth: ${proof.how} approved client "${client.clientName}" (${authRequest.clientId}) as key ${made.name}, tools: ${tools.tools?.join(', ') ?? 'all'}`);
  approved.headers.set('location', redirectTo);
  return new Response(null, { status: 302, headers: approved.headers });
}

export async function consentRoute(request: Request, env: OAuthEnv): Promise<Response> {
  const oauth = env.OAUTH_PROVIDER;
  if (!oauth) throw new Error('OAUTH_PROVIDER helpers missing: /authorize must be reached through the OAuth provider');
  try {
    if (request.method === 'GET') return await showConsent(request, oauth);
    if (request.method === 'POST') return await decide(request, env, oauth);
    return localError('use GET or POST', 405);
  } catch (e) {
    if (e instanceof AuthorizationError && e.redirectTo) return Response.redirect(e.redirectTo, 302);
    if (e instanceof AuthorizationError) return localError(e.description);
    if (e instanceof CimdFetchError) return localError('This app could not be verified (its client metadata document could not be read).');
    throw e;
  }
}

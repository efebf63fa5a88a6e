/**
 * DNS-rebinding and cross-site protection (MCP transport spec: servers MUST validate `Origin`).
 *
 * - `Origin`, when present, must be this Worker's own origin (or one of the allowed hosts below).
 *   A browser always sends it on a cross-site POST; MCP clients that are not browsers send none,
 *   so an absent Origin keeps working.
 * - `Host` is checked only when ALLOWED_HOSTS is set: `crawl4ai-mcp dev` sets it to
 *   127.0.0.1:PORT and localhost:PORT, because a page on evil.example.com whose name was
 *   rebound to 127.0.0.1 reaches the local Worker with `Host: evil.example.com`. On Cloudflare
 *   the edge routes by hostname, so a deployed Worker never sees a foreign Host.
 */

export interface RequestGuardEnv {
  /** comma-separated host[:port] list; unset = any Host */
  ALLOWED_HOSTS?: string;
}

export interface GuardRefusal {
  error: 'forbidden_origin' | 'forbidden_host';
  message: string;
}

function allowedHosts(env: RequestGuardEnv): string[] {
  return (env.ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

/** The Host the client asked for: the header when present (wrangler dev may rewrite request.url). */
function requestHost(request: Request, url: URL): string {
  return (request.headers.get('host') ?? url.host).trim().toLowerCase();
}

/** Undefined when the request may proceed; else why it is refused (answer 403). */
export function refuseForeignRequest(request: Request, env: RequestGuardEnv): GuardRefusal | undefined {
  const url = new URL(request.url);
  const hosts = allowedHosts(env);
  const host = requestHost(request, url);
  if (hosts.length > 0 && !hosts.includes(host)) {
    return { error: 'forbidden_host', message: `Host ${JSON.stringify(host.slice(0, 100))} is not this server (allowed: ${hosts.join(', ')})` };
  }
  const origin = request.headers.get('origin');
  if (origin === null) return undefined;
  // own origins: the URL as the runtime sees it, the Host the client used, and the allowed hosts
  const own = new Set([url.origin, `${url.protocol}//${host}`, ...hosts.flatMap((h) => [`http://${h}`, `https://${h}`])]);
  let normalised: string | undefined;
  try {
    normalised = new URL(origin).origin; // "null" (sandboxed frame, file:) and garbage throw or stay "null": foreign
  } catch {
    normalised = undefined;
  }
  if (normalised !== undefined && own.has(normalised.toLowerCase())) return undefined;
  return { error: 'forbidden_origin', message: `Origin ${JSON.stringify(origin.slice(0, 100))} is not allowed to call this server` };
}

/**
 * The one seam between the MCP tools and Crawl4AI: something that can `fetch` a Crawl4AI route.
 *
 * - `urlOrigin`: a base URL (the Worker's `ORIGIN_URL` var, or `serve --origin`) plus the static
 *   `CRAWL4AI_API_TOKEN` sent as `Authorization: Bearer`.
 * - `bindingOrigin`: a Workers binding with a `fetch()` (a `vpc_service` binding reaching the VM
 *   through Cloudflare Tunnel, later a Container's Durable Object). Such a binding THROWS when the
 *   tunnel is down; that becomes an {@link OriginUnreachableError} with a clear message, never a 500.
 *
 * Runs in workerd and in Node: web-standard APIs only.
 */
export interface Crawl4aiOrigin {
  /** `path` starts with `/` (e.g. `/crawl`); resolves with whatever Response the origin gave. */
  fetch(path: string, init?: RequestInit, call?: OriginCallOptions): Promise<Response>;
  /** Where requests go, for messages (never contains a secret). */
  readonly label?: string;
}

/** What one tool call lets an origin do on its behalf. */
export interface OriginCallOptions {
  /**
   * The caller accepts waiting while a stopped VM starts (wake on request), up to `until` (epoch
   * ms), and hears how it goes through `progress`. Without it a waking origin answers at once.
   */
  waitForStart?: { until: number; progress(message: string): void };
}

/** What a Workers `Fetcher` binding (service, vpc_service, DO stub) offers. */
export interface FetcherLike {
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
}

export const TUNNEL_DOWN_MESSAGE =
  'your crawler VM is not connected (tunnel down or VM stopped); run `crawl4ai-mcp status`';

/** The origin could not be reached at all (no HTTP response). */
export class OriginUnreachableError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'OriginUnreachableError';
    this.hint = hint;
  }
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

function withAuth(init: RequestInit | undefined, token: string | undefined): RequestInit {
  const headers = new Headers(init?.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init?.body !== undefined && init.body !== null && !headers.has('content-type')) {
    headers.set('content-type', 'application/json');
  }
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  return { ...init, headers };
}

/** The error text of a thrown fetch, without anything that could carry a secret. */
function describeThrown(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return (msg + cause).replace(/Bearer\s+\S+/gi, 'Bearer ***').slice(0, 300);
}

/**
 * `baseUrl` may carry a path prefix (`https://host/crawl4ai`); `path` is appended to it.
 * The token is sent only to that base URL.
 */
export function urlOrigin(baseUrl: string, token: string | undefined): Crawl4aiOrigin {
  let base: URL;
  try {
    base = new URL(baseUrl);
  } catch {
    throw new OriginUnreachableError(
      `the Crawl4AI origin URL is not a valid URL`,
      'set ORIGIN_URL (Worker) or --origin (serve) to e.g. https://crawler.example.com',
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new OriginUnreachableError(`the Crawl4AI origin must be http(s), got ${base.protocol}`, 'use an http:// or https:// URL');
  }
  const prefix = base.href.replace(/[?#].*$/, '').replace(/\/+$/, '');
  const label = base.origin;
  return {
    label,
    async fetch(path, init) {
      try {
        return await fetch(prefix + path, withAuth(init, token));
      } catch (e) {
        if (isAbort(e)) throw e;
        throw new OriginUnreachableError(
          `could not connect to Crawl4AI at ${label} (${describeThrown(e)})`,
          'is the crawler VM running and Crawl4AI up? run `crawl4ai-mcp status`',
          e,
        );
      }
    },
  };
}

/**
 * A binding-backed origin. The host in the URL does not route (a VPC service pins its target);
 * it only sets the Host header.
 */
export function bindingOrigin(fetcher: FetcherLike, token: string | undefined): Crawl4aiOrigin {
  return {
    label: 'the crawler VM (via Cloudflare Tunnel)',
    async fetch(path, init) {
      try {
        return await fetcher.fetch('http://crawl4ai' + path, withAuth(init, token));
      } catch (e) {
        if (isAbort(e)) throw e;
        throw new OriginUnreachableError(TUNNEL_DOWN_MESSAGE, 'run `crawl4ai-mcp status` (or `crawl4ai-mcp start` if the VM is stopped)', e);
      }
    },
  };
}

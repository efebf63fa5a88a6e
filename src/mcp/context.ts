/**
 * What every tool needs: the origin, the limits of this deployment, and per-call helpers.
 * Shared by the Worker and `serve --stdio` (web-standard APIs only).
 */
import type { CallToolResult, ServerContext } from '@modelcontextprotocol/server';
import { Crawl4aiClient, type ClientOptions } from './crawl4ai.js';
import { ToolError } from './errors.js';
import type { Crawl4aiOrigin, OriginCallOptions } from './origin.js';
import { DEFAULT_MAX_CHARS } from './paging.js';
import { ALLOWED_PORTS, checkPublicUrl } from './ssrf.js';

export interface ToolConfig {
  origin: Crawl4aiOrigin;
  /** crawl4ai-mcp version (serverInfo.version). */
  version: string;
  /** LLM extraction (`extract` with `prompt`) is offered only when the deployment has an LLM key. */
  llmEnabled: boolean;
  /** Default answer size cap in characters. */
  maxChars: number;
  /** Screenshots larger than this (PNG bytes) are not inlined. */
  screenshotMaxBytes: number;
  /** Wall-clock budget of one tool call (ms). */
  callBudgetMs: number;
  /** Overall budget of crawl_site's walk (ms); below callBudgetMs so the answer still gets out. */
  crawlSiteBudgetMs: number;
  /** Poll interval for jobs the call waits on (LLM extraction), ms. */
  pollIntervalMs: number;
}

export const DEFAULT_SCREENSHOT_MAX_BYTES = 1_000_000;

export function defaultToolConfig(origin: Crawl4aiOrigin, overrides: Partial<ToolConfig> = {}): ToolConfig {
  return {
    origin,
    version: '0.0.0',
    llmEnabled: false,
    maxChars: DEFAULT_MAX_CHARS,
    screenshotMaxBytes: DEFAULT_SCREENSHOT_MAX_BYTES,
    callBudgetMs: 55_000,
    crawlSiteBudgetMs: 50_000,
    pollIntervalMs: 1_000,
    ...overrides,
  };
}

/** Of a call's budget, what waiting for a stopped VM leaves for the crawl itself. */
export const CRAWL_RESERVE_MS = 15_000;

export function clientFor(cfg: ToolConfig, ctx: ServerContext | undefined, budgetMs = cfg.callBudgetMs): Crawl4aiClient {
  const deadline = Date.now() + budgetMs;
  const opts: ClientOptions = { deadline };
  if (ctx?.mcpReq.signal) opts.signal = ctx.mcpReq.signal;
  const waitForStart = startWaitOf(ctx, deadline - CRAWL_RESERVE_MS);
  if (waitForStart) opts.call = { waitForStart };
  return new Crawl4aiClient(cfg.origin, opts);
}

/**
 * A call that asked for progress (`_meta.progressToken`) may be held while a stopped VM starts:
 * the client hears progress notifications meanwhile (and clients that reset their timeout on
 * progress keep waiting). A call without one is told at once to call again.
 */
function startWaitOf(ctx: ServerContext | undefined, until: number): NonNullable<OriginCallOptions['waitForStart']> | undefined {
  const token = ctx?.mcpReq._meta?.progressToken;
  if (!ctx || token === undefined || until <= Date.now()) return undefined;
  const began = Date.now();
  let last = 0;
  return {
    until,
    progress(message) {
      // progress must increase: the seconds waited so far, and more than the last one
      const progress = (last = Math.max(last + 1, Math.round((Date.now() - began) / 1000)));
      void ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress, message } }).catch(() => undefined);
    },
  };
}

export const ALLOWED_PORTS_NOTE = `only public http(s) URLs can be crawled (no private, loopback, link-local or metadata addresses, no user:password@ in the URL, ports ${ALLOWED_PORTS.join('/')} or none)`;

/** The SSRF guard as a throw: refuses before anything is sent to Crawl4AI. */
export function requirePublicUrl(input: string): URL {
  const r = checkPublicUrl(input);
  if (!r.ok) {
    throw new ToolError(`blocked URL ${JSON.stringify(input.slice(0, 200))}: ${r.reason}`, `${ALLOWED_PORTS_NOTE}; fix the URL and retry`);
  }
  return r.url;
}

/**
 * Why a crawl result must not be shown, or undefined when it may. Chromium on the VM follows
 * redirects, so a public URL can end on a private address (the metadata service, the VM's own
 * ports): the final address (`redirected_url`) passes the same guard as the requested one.
 */
export function privateRedirectReason(r: { url?: string | null; redirected_url?: string | null }): string | undefined {
  const final = r.redirected_url;
  if (typeof final !== 'string' || final === '' || final === r.url) return undefined;
  const c = checkPublicUrl(final);
  if (c.ok) return undefined;
  let host = final;
  try {
    host = new URL(final).host;
  } catch {
    /* the reason says it is not a URL */
  }
  return `it redirected to ${host}, which is not a public address (${c.reason.replace(/^refused: /, '')})`;
}

export const PRIVATE_REDIRECT_HINT = 'the page sent the crawler to a private or internal address; its content is withheld. Crawl another URL';

/** The redirect guard as a throw, for tools that return one page. */
export function requirePublicFinalUrl(r: { url?: string | null; redirected_url?: string | null }, requested: string): void {
  const why = privateRedirectReason(r);
  if (why) throw new ToolError(`refused the result of ${requested}: ${why}`, PRIVATE_REDIRECT_HINT);
}

export function text(t: string): { type: 'text'; text: string } {
  return { type: 'text', text: t };
}

export function ok(...blocks: CallToolResult['content']): CallToolResult {
  return { content: blocks };
}

/** A crawl URL as Crawl4AI echoes it, normalised for matching results to requests. */
export function normalizeUrl(u: string): string {
  try {
    const x = new URL(u);
    x.hash = '';
    return x.href;
  } catch {
    return u;
  }
}

export function formatBytes(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)} MB`;
  if (n >= 1_000) return `${(n / 1_000).toFixed(0)} KB`;
  return `${n} bytes`;
}

// Loopback emulator of the Crawl4AI 0.9.x Docker server (deploy/docker/server.py + api.py), built on node:http; it
// reports version 0.9.4 (the pinned release) with the request shapes researched on 0.9.2.
// See /work/shared/reference/crawl4ai-0.9-api.md §1.5–1.9 and §6.2. URLs are "crawled" from the in-memory fixture
// site map in ./fixtures.ts; nothing leaves the machine.

import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import {
  FORBIDDEN_BROWSER_FIELDS, FORBIDDEN_CRAWLER_FIELDS, HttpError, badScheme, gateConfig, isPlainObject, isRawUrl, normalizeCrawlUrl,
  requireStringField, ssrfCheck, unprocessable, validateUrlsField,
} from './config.ts';
import { buildFixtures, type FixturePage, type FixtureSite, type FixtureSites } from './fixtures.ts';
import {
  crawlOne, markdownFor, parseRunConfig, pdfBytes, schemaHtml, screenshotB64, type ContentFilter, type CrawlCtx, type Json,
  type RunConfig, type World,
} from './render.ts';

export type { FixturePage, FixtureSite, FixtureSites, FixtureProduct } from './fixtures.ts';
export { FIXTURES, robotsDisallows } from './fixtures.ts';
export { pngSize, PNG_SIGNATURE } from './binary.ts';
export { FORBIDDEN_CRAWLER_FIELDS, FORBIDDEN_BROWSER_FIELDS, ALLOWED_TYPES } from './config.ts';

export const EMULATED_VERSION = '0.9.4';
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface Crawl4aiEmulatorOptions {
  /** CRAWL4AI_API_TOKEN; default 'test-crawl4ai-token' */
  token?: string;
  /** added to every authed route */
  latencyMs?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0 (ephemeral) */
  port?: number;
  /** delay of https://slow.example.com/ (default 3000 ms) */
  slowMs?: number;
  /** an LLM key is configured (enables /llm/job, GET /llm/{url}, /md f=llm); default false */
  llmEnabled?: boolean;
  /** CRAWL4AI_EXECUTE_JS_ENABLED; default false */
  executeJsEnabled?: boolean;
  /** CRAWL4AI_HOOKS_ENABLED; default false */
  hooksEnabled?: boolean;
  /** a /crawl/job completes this long after submission (default 300 ms)... */
  jobDelayMs?: number;
  /** ...or after this many GET /crawl/job/{id} polls, whichever comes first (default: time only) */
  jobPollsToComplete?: number;
  /** Crawl4AI's per-domain rate limiter delay between same-host URLs of one multi-URL request (default 0; real: 1–2 s) */
  rateLimitDelayMs?: number;
  /** CRAWL4AI_ALLOW_INTERNAL_URLS: disables the SSRF block (default false) */
  allowInternalUrls?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** path without the query string */
  path: string;
  /** the query string including '?', or '' */
  search: string;
  /** parsed JSON body (or the raw text when it is not JSON); undefined when there was none */
  body?: unknown;
  /** the raw Authorization header */
  auth?: string;
}

export interface Crawl4aiEmulator {
  /** http://127.0.0.1:PORT */
  url: string;
  token: string;
  close(): Promise<void>;
  requests: RecordedRequest[];
  setLatency(ms: number): void;
  /** e.g. failNext('/crawl', 504, {detail:'Crawl exceeded the time limit'}). `route` is a path ('/crawl'), a
   * template ('/crawl/job/{id}'), or either prefixed with a method ('GET /crawl/job/{id}'). Queued: one call fails
   * one request. A string body is sent as-is (text/html), an object as JSON; default body: the real server's. */
  failNext(route: string, status: number, body?: unknown): void;
  /** when down, every request gets its socket destroyed (connection reset) */
  setDown(down: boolean): void;
  /**
   * What GET /monitor/health reports of the container (default 21.4 % memory, 3.2 % CPU). The
   * janitor's memory_pressure follows the memory: LOW below 60 %, MEDIUM below 80 %, else HIGH.
   */
  setMonitorHealth(h: { memoryPercent?: number; cpuPercent?: number }): void;
  /** the deterministic fixture sites, for test expectations */
  fixtures: FixtureSites;
  /**
   * add or replace a fixture page (absolute URL) for this emulator instance. `redirectTo` makes it a 301 to that
   * absolute URL, which the "browser" follows wherever it points (private addresses included: Crawl4AI's SSRF check
   * judges only the submitted URL); add a page at the target for it to have content.
   */
  addPage(url: string, page: { html: string; status?: number; contentType?: string; title?: string; redirectTo?: string }): FixturePage;
  /** raw/fit markdown of a fixture URL exactly as /crawl would produce it (fit = PruningContentFilter) */
  expectedMarkdown(url: string): { raw: string; fit: string; title: string | null };
  setSlowMs(ms: number): void;
  /** number of stored artifacts (screenshots/PDFs) */
  artifactCount(): number;
  /** internal errors that became a generic 500, newest last (debugging aid; never sent on the wire) */
  errors: string[];
  /**
   * adds an entry to the monitor's logs (GET /monitor/logs/errors or /monitor/logs/janitor), as the
   * server does when a request fails or the janitor closes a browser; timestamps in seconds
   */
  logMonitorEvent(log: 'errors', entry: { endpoint: string; url?: string; error: string }): void;
  logMonitorEvent(log: 'janitor', entry: { type: string; sig?: string; details?: Record<string, unknown> }): void;
}

/** The monitor keeps the last 100 events of each log (a deque), and answers `limit` of them (1-1000, default 100). */
export const MONITOR_LOG_MAX = 100;

// ------------------------------------------------------------------ helpers

/** Python json.dumps(obj) formatting: ', ' and ': ' separators, ensure_ascii=True. */
export function pyJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'NaN';
  if (typeof v === 'string') return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  if (Array.isArray(v)) return '[' + v.map(pyJson).join(', ') + ']';
  if (typeof v === 'object') {
    return '{' + Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => `${pyJson(k)}: ${pyJson(x)}`).join(', ') + '}';
  }
  return 'null';
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function isoNow(): string {
  // Python datetime.now().isoformat() (naive, microseconds)
  return new Date().toISOString().replace('Z', '000');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => (ms > 0 ? setTimeout(r, ms) : r()));
}

/** Close with a TCP RST (ECONNRESET on the client) when the platform supports it. */
function resetSocket(s: Socket): void {
  const r = s as Socket & { resetAndDestroy?: () => void };
  if (typeof r.resetAndDestroy === 'function' && !s.destroyed) r.resetAndDestroy();
  else s.destroy();
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  server: 'uvicorn',
};

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  409: 'Conflict', 413: 'Request Entity Too Large', 422: 'Unprocessable Entity', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

interface Job {
  id: string;
  kind: 'crawl' | 'llm';
  createdAt: number;
  createdIso: string;
  urlField: string;
  polls: number;
  done: boolean;
  result?: unknown;
  error?: string;
}

interface Artifact {
  bytes: Buffer;
  mime: string;
  expires: number;
}

// ------------------------------------------------------------------ server

export async function startCrawl4aiEmulator(opts: Crawl4aiEmulatorOptions = {}): Promise<Crawl4aiEmulator> {
  const token = opts.token ?? 'test-crawl4ai-token';
  const host = opts.host ?? '127.0.0.1';
  let latencyMs = opts.latencyMs ?? 0;
  let down = false;
  const fixtures = buildFixtures();
  const world: World = { sites: new Map(), pages: new Map(), slowMs: opts.slowMs ?? 3000 };
  for (const s of Object.values(fixtures.sites)) {
    world.sites.set(s.host, s);
    for (const p of s.pages) world.pages.set(p.url.replace(/[?#].*$/, ''), p);
  }
  const requests: RecordedRequest[] = [];
  const errors: string[] = [];
  const failures: Array<{ method?: string; re: RegExp; status: number; body?: unknown }> = [];
  const jobs = new Map<string, Job>();
  const artifacts = new Map<string, Artifact>();
  const cache = new Map<string, number>();
  const sockets = new Set<Socket>();
  let llmCounter = 0;
  const jobDelayMs = opts.jobDelayMs ?? 300;

  const ctxFor = (signal?: AbortSignal): CrawlCtx => (signal ? { world, cache, signal } : { world, cache });

  // ---------------- response helpers
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    const isBuf = Buffer.isBuffer(body);
    const payload = isBuf ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': isBuf ? 'application/octet-stream' : typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
      'content-length': String(payload.length),
      ...headers,
    });
    res.end(payload);
  };

  const sendError = (res: ServerResponse, e: unknown): void => {
    if (e instanceof HttpError) {
      if (e.status === 500) {
        const note = isPlainObject(e.body) && typeof e.body._emulator_note === 'string' ? e.body._emulator_note : e.message;
        errors.push(note);
        send(res, 500, { error: 'Internal server error', correlation_id: hex(6) });
        return;
      }
      send(res, e.status, e.body, e.headers);
      return;
    }
    errors.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    send(res, 500, { error: 'Internal server error', correlation_id: hex(6) });
  };

  // ---------------- crawl core
  const resolveRequestConfig = (body: Record<string, unknown>): { configFor: (url: string) => RunConfig; stream: boolean } => {
    for (const f of ['browser_config', 'crawler_config'] as const) {
      const v = body[f];
      if (v !== undefined && v !== null && !isPlainObject(v)) {
        throw unprocessable([{ type: 'dict_type', loc: ['body', f], msg: 'Input should be a valid dictionary', input: v }]);
      }
    }
    gateConfig('BrowserConfig', body.browser_config);
    const base = parseRunConfig(gateConfig('CrawlerRunConfig', body.crawler_config));
    const list = body.crawler_configs;
    if (list === undefined || list === null) return { configFor: () => base, stream: base.stream === true };
    if (!Array.isArray(list)) throw unprocessable([{ type: 'list_type', loc: ['body', 'crawler_configs'], msg: 'Input should be a valid list', input: list }]);
    const parsed = list.map((c) => {
      const params = gateConfig('CrawlerRunConfig', c);
      const m = params.url_matcher;
      const patterns = (Array.isArray(m) ? m : m === undefined || m === null ? [] : [m]).filter((x): x is string => typeof x === 'string');
      return { cfg: parseRunConfig(params), patterns };
    });
    const glob = (p: string): RegExp => new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$');
    const configFor = (url: string): RunConfig => {
      const hit = parsed.find((p) => p.patterns.some((pat) => (pat.includes('*') ? glob(pat).test(url) : url.includes(pat))));
      return hit?.cfg ?? parsed.find((p) => p.patterns.length === 0)?.cfg ?? base;
    };
    return { configFor, stream: base.stream === true || parsed.some((p) => p.cfg.stream) };
  };

  const prepareCrawl = (body: Record<string, unknown>, httpUrl = false): { urls: string[]; configFor: (u: string) => RunConfig; stream: boolean } => {
    const urls = validateUrlsField(body, { httpUrl }).map(normalizeCrawlUrl);
    if (body.hooks !== undefined && body.hooks !== null && !opts.hooksEnabled) {
      throw new HttpError(403, { detail: 'Hooks are disabled. Set CRAWL4AI_HOOKS_ENABLED=true to enable them.' });
    }
    if (!opts.allowInternalUrls) urls.forEach(ssrfCheck);
    const { configFor, stream } = resolveRequestConfig(body);
    return { urls, configFor, stream };
  };

  /** Crawl all URLs (concurrently across hosts; per-host spacing = rateLimitDelayMs). Calls onResult as each finishes. */
  const crawlMany = async (
    urls: string[],
    configFor: (u: string) => RunConfig,
    signal: AbortSignal | undefined,
    onResult?: (r: { [k: string]: Json }, i: number) => void,
  ): Promise<Array<{ [k: string]: Json }>> => {
    const out: Array<{ [k: string]: Json }> = new Array(urls.length);
    const byHost = new Map<string, number[]>();
    urls.forEach((u, i) => {
      let h = 'raw';
      try {
        h = isRawUrl(u) ? `raw${i}` : new URL(u).host;
      } catch {
        h = `bad${i}`;
      }
      const d = opts.rateLimitDelayMs ? h : `${h}#${i}`;
      byHost.set(d, [...(byHost.get(d) ?? []), i]);
    });
    await Promise.all(
      [...byHost.values()].map(async (idxs) => {
        for (let k = 0; k < idxs.length; k++) {
          if (k > 0 && opts.rateLimitDelayMs) await sleep(opts.rateLimitDelayMs);
          const i = idxs[k]!;
          const started = Date.now() / 1000;
          const r = await crawlOne(urls[i]!, configFor(urls[i]!), ctxFor(signal));
          if (urls.length > 1) {
            r.dispatch_result = {
              task_id: randomUUID(),
              memory_usage: 180.5 + i,
              peak_memory: 210.25 + i,
              start_time: started,
              end_time: Date.now() / 1000,
              error_message: r.success ? '' : String(r.error_message ?? ''),
            };
          }
          out[i] = r;
          onResult?.(r, i);
        }
      }),
    );
    return out;
  };

  const crawlResponse = (results: Array<{ [k: string]: Json }>, started: number): Record<string, unknown> => ({
    success: true,
    results,
    server_processing_time_s: (Date.now() - started) / 1000,
    server_memory_delta_mb: Math.round(results.length * 3.7 * 100) / 100,
    server_peak_memory_mb: 412.5,
  });

  const streamResults = async (res: ServerResponse, urls: string[], configFor: (u: string) => RunConfig, signal: AbortSignal): Promise<void> => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'application/x-ndjson',
      'cache-control': 'no-cache',
      'x-stream-status': 'active',
    });
    res.flushHeaders();
    await crawlMany(urls, configFor, signal, (r) => {
      if (!res.destroyed) res.write(pyJson({ ...r, server_memory_mb: 398.2 }) + '\n');
    });
    if (!res.destroyed) res.end(pyJson({ status: 'completed' }));
  };

  // ---------------- artifacts
  const storeArtifact = (bytes: Buffer, mime: string): string => {
    const id = hex(16);
    const now = Date.now();
    for (const [k, a] of artifacts) if (a.expires < now) artifacts.delete(k);
    artifacts.set(id, { bytes, mime, expires: now + 3600_000 });
    return id;
  };

  const requireHttpUrl = (url: string): void => {
    if (!isRawUrl(url) && !url.startsWith('http://') && !url.startsWith('https://')) throw badScheme();
    if (!opts.allowInternalUrls) ssrfCheck(url);
  };

  /** Crawl one page for the single-URL helper routes; a failed crawl is a generic 500 like the real server. */
  const crawlSingle = async (url: string, cfg: RunConfig, signal: AbortSignal): Promise<{ [k: string]: Json }> => {
    const r = await crawlOne(url, cfg, ctxFor(signal));
    if (!r.success) throw new HttpError(500, { _emulator_note: `crawl of ${url} failed: ${String(r.error_message)}` });
    return r;
  };

  // ---------------- jobs
  const jobView = (job: Job): Record<string, unknown> => {
    const base = job.kind === 'crawl' ? '/crawl/job/' : '/llm/job/';
    job.polls++;
    const ready = job.done && (Date.now() - job.createdAt >= jobDelayMs || (opts.jobPollsToComplete !== undefined && job.polls >= opts.jobPollsToComplete));
    const view: Record<string, unknown> = {
      task_id: job.id,
      status: ready ? (job.error !== undefined ? 'failed' : 'completed') : 'processing',
      created_at: job.createdIso,
      url: job.urlField,
      _links: { self: { href: `${base}${job.id}` }, refresh: { href: `${base}${job.id}` } },
    };
    if (ready && job.error !== undefined) view.error = job.error;
    else if (ready) view.result = job.result;
    return view;
  };

  // ---------------- routes
  type Handler = (req: IncomingMessage, res: ServerResponse, body: unknown, params: string[], signal: AbortSignal, search: URLSearchParams) => Promise<void> | void;
  interface Route {
    method: string;
    re: RegExp;
    auth: boolean;
    handler: Handler;
  }
  const routes: Route[] = [];
  const monitor = { memoryPercent: 21.4, cpuPercent: 3.2 };
  const monitorErrors: Array<Record<string, unknown>> = [];
  const monitorJanitor: Array<Record<string, unknown>> = [];
  const pushBounded = (list: Array<Record<string, unknown>>, e: Record<string, unknown>) => {
    list.push(e);
    if (list.length > MONITOR_LOG_MAX) list.splice(0, list.length - MONITOR_LOG_MAX);
  };
  const route = (method: string, path: string, auth: boolean, handler: Handler): void => {
    const re = new RegExp('^' + path.replace(/\{[^}]+:path\}/g, '(.+)').replace(/\{[^}]+\}/g, '([^/]+)') + '$');
    routes.push({ method, re, auth, handler });
  };

  const objBody = (body: unknown): Record<string, unknown> => {
    if (body === undefined) throw unprocessable([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
    if (!isPlainObject(body)) {
      throw unprocessable([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body }]);
    }
    return body;
  };

  route('GET', '/health', false, (_q, res) => send(res, 200, { status: 'ok', timestamp: Date.now() / 1000, version: EMULATED_VERSION }));
  route('GET', '/', false, (_q, res) => send(res, 302, '', { location: '/playground', 'content-length': '0' }));
  route('GET', '/playground', false, (_q, res) => send(res, 200, '<!DOCTYPE html><html><head><title>Crawl4AI Playground</title></head><body><h1>Crawl4AI Playground (emulator)</h1></body></html>'));
  route('POST', '/token', false, () => {
    throw new HttpError(403, { detail: 'Token issuance is disabled: no api_token is configured on the server.' });
  });

  route('POST', '/crawl', true, async (_q, res, body, _p, signal) => {
    const started = Date.now();
    const b = objBody(body);
    const { urls, configFor, stream } = prepareCrawl(b);
    if (stream) return streamResults(res, urls, configFor, signal);
    const results = await crawlMany(urls, configFor, signal);
    if (results.every((r) => !r.success)) {
      throw new HttpError(500, { _emulator_note: `all ${results.length} URL(s) failed: ${results.map((r) => String(r.error_message).split('\n')[0]).join(' | ')}` });
    }
    send(res, 200, crawlResponse(results, started));
  });

  route('POST', '/crawl/stream', true, async (_q, res, body, _p, signal) => {
    const { urls, configFor } = prepareCrawl(objBody(body));
    return streamResults(res, urls, configFor, signal);
  });

  route('POST', '/crawl/job', true, (_q, res, body) => {
    const b = objBody(body);
    if (b.webhook_config !== undefined && b.webhook_config !== null) {
      const wh = b.webhook_config;
      if (!isPlainObject(wh) || typeof wh.webhook_url !== 'string') {
        throw unprocessable([{ type: 'missing', loc: ['body', 'webhook_config', 'webhook_url'], msg: 'Field required', input: wh }]);
      }
      if (!opts.allowInternalUrls) ssrfCheck(wh.webhook_url);
    }
    const { urls, configFor } = prepareCrawl(b, true);
    const id = `crawl_${hex(4)}`;
    const job: Job = { id, kind: 'crawl', createdAt: Date.now(), createdIso: isoNow(), urlField: pyJson(urls), polls: 0, done: false };
    jobs.set(id, job);
    const started = Date.now();
    void crawlMany(urls, configFor, undefined).then(
      (results) => {
        if (results.every((r) => !r.success)) job.error = `Crawl failed for all URLs: ${String(results[0]?.error_message ?? '').split('\n')[0]}`;
        else job.result = crawlResponse(results, started);
        job.done = true;
      },
      (e: unknown) => {
        job.error = e instanceof Error ? e.message : String(e);
        job.done = true;
      },
    );
    send(res, 202, { task_id: id });
  });

  route('GET', '/crawl/job/{task_id}', true, (_q, res, _b, [id]) => {
    const job = jobs.get(id!);
    if (!job || job.kind !== 'crawl') throw new HttpError(404, { detail: 'Task not found' });
    send(res, 200, jobView(job));
  });

  const llmDisabled = (): HttpError =>
    new HttpError(400, { detail: 'LLM is not configured on this server: set LLM_API_KEY (or a provider key such as OPENAI_API_KEY) to use LLM features.' });

  route('POST', '/llm/job', true, (_q, res, body) => {
    const b = objBody(body);
    const url = requireStringField(b, 'url');
    const q = requireStringField(b, 'q');
    if (!opts.llmEnabled) throw llmDisabled();
    requireHttpUrl(url);
    llmCounter++;
    const id = `llm_${Math.floor(Date.now() / 1000)}_${llmCounter}`;
    const job: Job = { id, kind: 'llm', createdAt: Date.now(), createdIso: isoNow(), urlField: url, polls: 0, done: false };
    jobs.set(id, job);
    const md = markdownFor(world, url, { kind: 'bm25', query: q });
    if (md.ok) job.result = [{ index: 0, error: false, tags: [], content: `Emulated LLM answer to "${q}" from ${md.title ?? url}: ${md.fit.slice(0, 300)}` }];
    else job.error = `Crawl failed: ${md.error}`;
    job.done = true;
    send(res, 202, { task_id: id, status: 'processing', url, _links: { self: { href: `/llm/job/${id}` }, status: { href: `/llm/job/${id}` } } });
  });

  route('GET', '/llm/job/{task_id}', true, (_q, res, _b, [id]) => {
    const job = jobs.get(id!);
    if (!job || job.kind !== 'llm') throw new HttpError(404, { detail: 'Task not found' });
    send(res, 200, jobView(job));
  });

  route('POST', '/md', true, async (_q, res, body, _p, signal) => {
    const b = objBody(body);
    const url = requireStringField(b, 'url');
    const f = b.f === undefined || b.f === null ? 'fit' : b.f;
    if (typeof f !== 'string' || !['raw', 'fit', 'bm25', 'llm'].includes(f)) {
      throw unprocessable([{ type: 'enum', loc: ['body', 'f'], msg: "Input should be 'raw', 'fit', 'bm25' or 'llm'", input: f, ctx: { expected: "'raw', 'fit', 'bm25' or 'llm'" } }]);
    }
    const q = typeof b.q === 'string' ? b.q : null;
    const c = typeof b.c === 'string' ? b.c : b.c === null ? null : '0';
    requireHttpUrl(url);
    if (f === 'llm' && !opts.llmEnabled) throw llmDisabled();
    const filter: ContentFilter | undefined = f === 'raw' ? undefined : f === 'bm25' ? (q ? { kind: 'bm25', query: q } : { kind: 'bm25' }) : { kind: 'pruning' };
    const cfg: RunConfig = { pageTimeoutMs: 60_000, cacheMode: c === '1' ? 'enabled' : 'write_only' };
    if (filter) cfg.contentFilter = filter;
    const r = await crawlSingle(url, cfg, signal);
    const md = r.markdown as { raw_markdown: string; fit_markdown: string };
    send(res, 200, { url, filter: f, query: q, cache: c, markdown: f === 'raw' ? md.raw_markdown : md.fit_markdown, success: true });
  });

  route('POST', '/html', true, async (_q, res, body, _p, signal) => {
    const url = requireStringField(objBody(body), 'url');
    requireHttpUrl(url);
    await crawlSingle(url, { pageTimeoutMs: 60_000, cacheMode: 'bypass' }, signal);
    send(res, 200, { html: schemaHtml(world, url) ?? '', url, success: true });
  });

  route('POST', '/screenshot', true, async (_q, res, body, _p, signal) => {
    const url = requireStringField(objBody(body), 'url');
    requireHttpUrl(url);
    const r = await crawlSingle(url, { pageTimeoutMs: 60_000, cacheMode: 'bypass' }, signal);
    const b64 = screenshotB64(url, String((r.markdown as { raw_markdown?: string } | null)?.raw_markdown ?? ''));
    const bytes = Buffer.from(b64, 'base64');
    const id = storeArtifact(bytes, 'image/png');
    send(res, 200, { success: true, screenshot: b64, artifact_id: id, url: `/artifacts/${id}`, mime: 'image/png', size: bytes.length });
  });

  route('POST', '/pdf', true, async (_q, res, body, _p, signal) => {
    const url = requireStringField(objBody(body), 'url');
    requireHttpUrl(url);
    const r = await crawlSingle(url, { pageTimeoutMs: 60_000, cacheMode: 'bypass' }, signal);
    const title = String((r.metadata as { title?: string } | null)?.title ?? url);
    const bytes = pdfBytes(url, title, String((r.markdown as { raw_markdown?: string } | null)?.raw_markdown ?? ''));
    const id = storeArtifact(bytes, 'application/pdf');
    send(res, 200, { success: true, pdf: bytes.toString('base64'), artifact_id: id, url: `/artifacts/${id}`, mime: 'application/pdf', size: bytes.length });
  });

  route('GET', '/artifacts/{artifact_id}', true, (_q, res, _b, [id]) => {
    const a = artifacts.get(id!);
    if (!a || a.expires < Date.now()) throw new HttpError(404, { detail: 'Artifact not found' });
    send(res, 200, a.bytes, { 'content-type': a.mime, 'content-disposition': `inline; filename="${id}${a.mime === 'image/png' ? '.png' : '.pdf'}"` });
  });

  route('POST', '/execute_js', true, async (_q, res, body, _p, signal) => {
    if (!opts.executeJsEnabled) {
      throw new HttpError(403, { detail: 'The /execute_js endpoint is disabled. Set CRAWL4AI_EXECUTE_JS_ENABLED=true to enable it.' });
    }
    const b = objBody(body);
    const url = requireStringField(b, 'url');
    if (!Array.isArray(b.scripts)) {
      throw unprocessable([{ type: b.scripts === undefined ? 'missing' : 'list_type', loc: ['body', 'scripts'], msg: b.scripts === undefined ? 'Field required' : 'Input should be a valid list', input: b.scripts ?? b }]);
    }
    requireHttpUrl(url);
    const r = await crawlSingle(url, { pageTimeoutMs: 60_000, cacheMode: 'bypass' }, signal);
    const title = (r.metadata as { title?: string } | null)?.title ?? null;
    r.js_execution_result = { success: true, results: b.scripts.map((s) => (typeof s === 'string' && /document\.title/.test(s) ? title : null)) };
    send(res, 200, r);
  });

  route('GET', '/llm/{url:path}', true, async (_q, res, _b, [rawUrl], _s, search) => {
    if (!opts.llmEnabled) throw llmDisabled();
    const q = search.get('q');
    if (!q) throw new HttpError(400, { detail: 'Query parameter q is required' });
    let url = decodeURIComponent(rawUrl!);
    if (!url.startsWith('http://') && !url.startsWith('https://')) url = `https://${url}`;
    if (!opts.allowInternalUrls) ssrfCheck(url);
    const md = markdownFor(world, url, { kind: 'bm25', query: q });
    if (!md.ok) throw new HttpError(500, { _emulator_note: md.error });
    send(res, 200, { answer: `Emulated answer to "${q}" from ${md.title ?? url}: ${md.fit.slice(0, 200)}` });
  });

  route('GET', '/schema', true, (_q, res) => send(res, 200, SCHEMA_DUMP));

  route('POST', '/config/dump', true, (_q, res, body) => {
    const b = objBody(body);
    const type = b.type;
    if (type !== 'CrawlerRunConfig' && type !== 'BrowserConfig') throw new HttpError(400, { detail: `Unsupported type: ${String(type)}` });
    const params = gateConfig(type, { type, params: isPlainObject(b.params) ? b.params : {} });
    const defaults = type === 'CrawlerRunConfig' ? SCHEMA_DUMP.crawler.params : SCHEMA_DUMP.browser.params;
    send(res, 200, { type, params: { ...defaults, ...params } });
  });

  route('GET', '/hooks/info', true, (_q, res) =>
    send(res, 200, {
      available_actions: Object.fromEntries(
        ['block_resources', 'add_cookies', 'set_headers', 'scroll_to_bottom', 'wait_for_timeout'].map((a) => [a, { hook_point: 'before_goto', description: a.replace(/_/g, ' '), params_schema: { type: 'object' } }]),
      ),
      usage: { enabled: opts.hooksEnabled === true },
      timeout_limits: { min: 1, max: 120, default: 30 },
    }),
  );

  route('GET', '/metrics', true, (_q, res) =>
    send(res, 200, `# HELP http_requests_total Total number of requests\n# TYPE http_requests_total counter\nhttp_requests_total ${requests.length}\n`, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    }),
  );

  // the monitor's logs: newest last, `limit` bounded like FastAPI's Query(100, ge=1, le=1000)
  const monitorLog = (list: Array<Record<string, unknown>>, key: 'errors' | 'events') => (_q: IncomingMessage, res: ServerResponse, _b: unknown, _p: string[], _s: AbortSignal, search: URLSearchParams) => {
    const raw = search.get('limit') ?? '100';
    const limit = Number(raw);
    if (!/^-?\d+$/.test(raw) || limit < 1 || limit > 1000) {
      throw new HttpError(422, { detail: [{ type: limit < 1 ? 'greater_than_equal' : 'less_than_equal', loc: ['query', 'limit'], msg: limit < 1 ? 'Input should be greater than or equal to 1' : 'Input should be less than or equal to 1000', input: raw }] });
    }
    send(res, 200, { [key]: list.slice(-limit) });
  };
  route('GET', '/monitor/logs/errors', true, monitorLog(monitorErrors, 'errors'));
  route('GET', '/monitor/logs/janitor', true, monitorLog(monitorJanitor, 'events'));

  route('GET', '/monitor/health', true, (_q, res) =>
    send(res, 200, {
      container: { memory_percent: monitor.memoryPercent, cpu_percent: monitor.cpuPercent, network_sent_mb: 1.2, network_recv_mb: 8.9, uptime_seconds: Math.round(process.uptime()) },
      pool: { permanent: { active: true, memory_mb: 270 }, hot: { count: 0, memory_mb: 0 }, cold: { count: 0, memory_mb: 0 }, total_memory_mb: 270 },
      janitor: { next_cleanup_estimate: 'in 300s', memory_pressure: monitor.memoryPercent < 60 ? 'LOW' : monitor.memoryPercent < 80 ? 'MEDIUM' : 'HIGH' },
    }),
  );

  // ---------------- dispatcher
  const matchFailure = (method: string, path: string): (typeof failures)[number] | undefined => {
    const i = failures.findIndex((f) => (!f.method || f.method === method) && f.re.test(path));
    return i >= 0 ? failures.splice(i, 1)[0] : undefined;
  };

  const readBody = (req: IncomingMessage): Promise<{ buf: Buffer | null; tooLarge: boolean }> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? '0');
      if (declared > MAX_BODY_BYTES) {
        // answer without reading it (like a Content-Length check in ASGI middleware); the connection is closed after
        req.resume();
        resolve({ buf: null, tooLarge: true });
        return;
      }
      let tooLarge = false;
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) tooLarge = true;
        if (!tooLarge) chunks.push(c);
      });
      req.on('end', () => resolve({ buf: size === 0 || tooLarge ? null : Buffer.concat(chunks), tooLarge }));
      req.on('error', reject);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const u = new URL(req.url ?? '/', 'http://emulator');
    const path = u.pathname;
    const auth = req.headers.authorization;
    if (down) {
      const entry: RecordedRequest = { method, path, search: u.search };
      if (auth !== undefined) entry.auth = auth;
      requests.push(entry);
      resetSocket(req.socket);
      return;
    }
    const { buf, tooLarge } = await readBody(req);
    let body: unknown;
    let bodyError: HttpError | null = null;
    if (buf) {
      const text = buf.toString('utf8');
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = text;
        const pos = /position (\d+)/.exec(String(e))?.[1];
        bodyError = unprocessable([
          { type: 'json_invalid', loc: ['body', pos ? Number(pos) : 0], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } },
        ]);
      }
    }
    const entry: RecordedRequest = { method, path, search: u.search };
    if (body !== undefined) entry.body = body;
    if (auth !== undefined) entry.auth = auth;
    requests.push(entry);

    const candidates = routes.filter((r) => r.re.test(path));
    const r = candidates.find((c) => c.method === method);
    const isPublic = r ? !r.auth : candidates.length > 0 && candidates.every((c) => !c.auth);
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    try {
      if (!isPublic) {
        const m = /^Bearer\s+(.+)$/i.exec(auth ?? '');
        if (!m || m[1]!.trim() !== token) {
          throw new HttpError(401, { detail: 'Authentication required' }, { 'www-authenticate': 'Bearer' });
        }
        if (latencyMs > 0) await sleep(latencyMs);
        const fail = matchFailure(method, path);
        if (fail) {
          const fb = fail.body !== undefined ? fail.body : fail.status === 500 ? { error: 'Internal server error', correlation_id: hex(6) } : { detail: REASONS[fail.status] ?? 'Error' };
          // the server's error log records failed requests (the monitor's /monitor/logs/errors)
          if (fail.status >= 500) {
            const b = isPlainObject(body) ? body : {};
            const url = typeof b.url === 'string' ? b.url : Array.isArray(b.urls) && typeof b.urls[0] === 'string' ? b.urls[0] : '';
            pushBounded(monitorErrors, { timestamp: Date.now() / 1000, endpoint: path, url, error: isPlainObject(fb) ? String(fb.detail ?? fb.error ?? 'error') : String(fb), request_id: hex(8) });
          }
          send(res, fail.status, fb, fail.status === 503 ? { 'retry-after': '5' } : {});
          return;
        }
      }
      if (tooLarge) throw new HttpError(413, { detail: 'Request body too large' }, { connection: 'close' });
      if (!r) {
        if (candidates.length) throw new HttpError(405, { detail: 'Method Not Allowed' }, { allow: candidates.map((c) => c.method).join(', ') });
        throw new HttpError(404, { detail: 'Not Found' });
      }
      if (bodyError) throw bodyError;
      const params = r.re.exec(path)!.slice(1);
      await r.handler(req, res, body, params, ac.signal, u.searchParams);
    } catch (e) {
      sendError(res, e);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      errors.push(String(e));
      if (!res.headersSent) sendError(res, e);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;

  return {
    url,
    token,
    requests,
    errors,
    fixtures,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    logMonitorEvent(log: 'errors' | 'janitor', entry: Record<string, unknown>) {
      const timestamp = Date.now() / 1000;
      if (log === 'errors') pushBounded(monitorErrors, { timestamp, endpoint: entry.endpoint, url: entry.url ?? '', error: entry.error, request_id: hex(8) });
      else pushBounded(monitorJanitor, { timestamp, type: entry.type, sig: entry.sig ?? hex(4), details: entry.details ?? {} });
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setSlowMs(ms) {
      world.slowMs = ms;
    },
    failNext(routeSpec, status, body) {
      const m = /^([A-Z]+)\s+(.+)$/.exec(routeSpec.trim());
      const path = m ? m[2]! : routeSpec.trim();
      const re = new RegExp('^' + path.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+') + '$');
      const f: (typeof failures)[number] = { re, status };
      if (m) f.method = m[1]!;
      if (body !== undefined) f.body = body;
      failures.push(f);
    },
    setMonitorHealth(h) {
      if (h.memoryPercent !== undefined) monitor.memoryPercent = h.memoryPercent;
      if (h.cpuPercent !== undefined) monitor.cpuPercent = h.cpuPercent;
    },
    setDown(d) {
      down = d;
      if (d) for (const s of sockets) resetSocket(s);
    },
    addPage(pageUrl, p) {
      const u = new URL(pageUrl);
      const origin = `${u.protocol}//${u.host}`;
      let site = world.sites.get(u.host);
      if (!site) {
        site = { host: u.host, origin, pages: [] };
        world.sites.set(u.host, site);
        fixtures.sites[u.host] = site;
      }
      const titleMatch = /<title>([^<]*)<\/title>/i.exec(p.html);
      const page: FixturePage = {
        url: `${origin}${u.pathname}`,
        host: u.host,
        path: u.pathname,
        title: p.title ?? titleMatch?.[1] ?? '',
        description: '',
        status: p.status ?? 200,
        contentType: p.contentType ?? 'text/html; charset=utf-8',
        body: p.html,
        links: [],
      };
      if (p.redirectTo) {
        page.redirectTo = new URL(p.redirectTo, origin).href;
        page.status = p.status ?? 301;
      }
      site.pages = site.pages.filter((x) => x.url !== page.url).concat(page);
      world.pages.set(page.url, page);
      fixtures.byUrl[page.url] = page;
      return page;
    },
    expectedMarkdown(pageUrl) {
      const raw = markdownFor(world, pageUrl, null);
      const fit = markdownFor(world, pageUrl, { kind: 'pruning' });
      if (!raw.ok || !fit.ok) throw new Error(`not a crawlable fixture: ${pageUrl}`);
      return { raw: raw.raw, fit: fit.fit, title: raw.title };
    },
    artifactCount: () => artifacts.size,
  };
}

const SCHEMA_DUMP = {
  browser: {
    type: 'BrowserConfig',
    params: {
      browser_type: 'chromium', headless: true, browser_mode: 'dedicated', use_managed_browser: false, use_persistent_context: false,
      viewport_width: 1080, viewport_height: 600, verbose: true, accept_downloads: false, ignore_https_errors: false,
      java_script_enabled: true, text_mode: true, light_mode: false, enable_stealth: false,
      user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36',
    },
  },
  crawler: {
    type: 'CrawlerRunConfig',
    params: {
      word_count_threshold: 1, css_selector: null, target_elements: [], excluded_tags: [], excluded_selector: '', only_text: false,
      remove_forms: false, cache_mode: { type: 'CacheMode', params: 'bypass' }, wait_until: 'domcontentloaded', page_timeout: 60000,
      wait_for: null, wait_for_images: false, delay_before_return_html: 0.1, scan_full_page: false, screenshot: false, pdf: false,
      capture_mhtml: false, check_robots_txt: false, stream: false, exclude_external_links: false, exclude_social_media_links: false,
      exclude_domains: [], max_retries: 0, markdown_generator: { type: 'DefaultMarkdownGenerator', params: {} }, extraction_strategy: null,
    },
  },
} as const;

export const FORBIDDEN_FIELDS = { CrawlerRunConfig: FORBIDDEN_CRAWLER_FIELDS, BrowserConfig: FORBIDDEN_BROWSER_FIELDS } as const;

/**
 * A typed client for the Crawl4AI 0.9 REST routes the tools use, over a {@link Crawl4aiOrigin}.
 * Every call is bounded by the tool call's deadline and aborted when the MCP request is cancelled.
 * Non-2xx answers become {@link OriginHttpError}s with a hint (see errors.ts).
 */
import { OriginHttpError, originHttpError, ToolError } from './errors.js';
import { OriginUnreachableError, type Crawl4aiOrigin, type OriginCallOptions } from './origin.js';

export interface CrawlLink {
  href: string;
  text?: string | null;
  title?: string | null;
  base_domain?: string | null;
}

export interface CrawlMarkdown {
  raw_markdown?: string | null;
  fit_markdown?: string | null;
  markdown_with_citations?: string | null;
  references_markdown?: string | null;
}

export interface CrawlResult {
  url: string;
  success: boolean;
  html?: string | null;
  cleaned_html?: string | null;
  markdown?: CrawlMarkdown | string | null;
  links?: { internal?: CrawlLink[] | null; external?: CrawlLink[] | null } | null;
  metadata?: Record<string, unknown> | null;
  extracted_content?: string | null;
  error_message?: string | null;
  status_code?: number | null;
  redirected_url?: string | null;
}

export interface CrawlResponse {
  success: boolean;
  results: CrawlResult[];
  server_processing_time_s?: number;
}

export interface ArtifactResponse {
  success: boolean;
  artifact_id?: string;
  url?: string;
  mime?: string;
  size?: number;
  screenshot?: string;
  pdf?: string;
}

export interface JobStatus {
  task_id: string;
  status: 'processing' | 'completed' | 'failed' | string;
  created_at?: string;
  url?: string;
  result?: unknown;
  error?: string;
}

export interface HealthResponse {
  status: string;
  version?: string;
  timestamp?: number;
}

/** `crawler_config` in the typed form Crawl4AI 0.9 expects. */
export interface CrawlerConfigOptions {
  /** Fill `fit_markdown` with a PruningContentFilter (main content only). */
  fit?: boolean;
  cssSelector?: string;
  waitFor?: string;
  bypassCache?: boolean;
  checkRobotsTxt?: boolean;
  pageTimeoutMs?: number;
  /** A JsonCssExtractionStrategy schema. */
  cssSchema?: Record<string, unknown>;
}

export function crawlerConfig(o: CrawlerConfigOptions): Record<string, unknown> {
  const params: Record<string, unknown> = {
    cache_mode: o.bypassCache ? 'bypass' : 'enabled',
  };
  if (o.fit) {
    params.markdown_generator = {
      type: 'DefaultMarkdownGenerator',
      params: { content_filter: { type: 'PruningContentFilter', params: { threshold: 0.48 } } },
    };
  }
  if (o.cssSelector) params.css_selector = o.cssSelector;
  if (o.waitFor) params.wait_for = o.waitFor;
  if (o.checkRobotsTxt) params.check_robots_txt = true;
  if (o.pageTimeoutMs) params.page_timeout = Math.min(60_000, Math.max(1_000, Math.round(o.pageTimeoutMs)));
  if (o.cssSchema) {
    params.extraction_strategy = {
      type: 'JsonCssExtractionStrategy',
      params: { schema: { type: 'dict', value: o.cssSchema } },
    };
  }
  return { type: 'CrawlerRunConfig', params };
}

/** The markdown of a result: fit (main content) when asked and present, else raw. */
export function markdownOf(r: CrawlResult, preferFit: boolean): string {
  const m = r.markdown;
  if (typeof m === 'string') return m;
  if (!m) return '';
  if (preferFit && m.fit_markdown && m.fit_markdown.trim()) return m.fit_markdown;
  return m.raw_markdown ?? m.markdown_with_citations ?? '';
}

export interface ClientOptions {
  /** Cancelled MCP request, client disconnect. */
  signal?: AbortSignal;
  /** Epoch ms after which no origin call may still run. */
  deadline: number;
  /** passed to every origin call (e.g. may wait for a stopped VM to start) */
  call?: OriginCallOptions;
}

export class Crawl4aiClient {
  constructor(
    readonly origin: Crawl4aiOrigin,
    readonly opts: ClientOptions,
  ) {}

  /** Milliseconds left before the deadline. */
  remainingMs(): number {
    return this.opts.deadline - Date.now();
  }

  private signal(deadline = this.opts.deadline): AbortSignal {
    const ms = Math.max(1, deadline - Date.now());
    const t = AbortSignal.timeout(ms);
    return this.opts.signal ? AbortSignal.any([this.opts.signal, t]) : t;
  }

  /** A JSON request; resolves with the parsed body of a 2xx answer. */
  async request<T>(method: 'GET' | 'POST', path: string, body: unknown, what: string, deadline?: number): Promise<T> {
    if (this.remainingMs() <= 0) throw new ToolError('the call ran out of time before Crawl4AI could be asked', 'use start_crawl_job for long work');
    const init: RequestInit = { method, signal: this.signal(deadline) };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await this.origin.fetch(path, init, this.opts.call);
    const text = await res.text();
    if (!res.ok) throw originHttpError(res.status, text, what);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ToolError(
        `Crawl4AI answered ${res.status} to the ${what} with a body that is not JSON`,
        'is ORIGIN_URL pointing at a Crawl4AI server (not a login page or proxy)? run `crawl4ai-mcp status`',
      );
    }
  }

  crawl(urls: string[], config: Record<string, unknown>, what = 'crawl', deadline?: number): Promise<CrawlResponse> {
    return this.request<CrawlResponse>('POST', '/crawl', { urls, browser_config: {}, crawler_config: config }, what, deadline);
  }

  screenshot(url: string, waitSeconds: number): Promise<ArtifactResponse> {
    return this.request('POST', '/screenshot', { url, screenshot_wait_for: waitSeconds }, `screenshot of ${url}`);
  }

  pdf(url: string): Promise<ArtifactResponse> {
    return this.request('POST', '/pdf', { url }, `PDF render of ${url}`);
  }

  startCrawlJob(urls: string[], config: Record<string, unknown>): Promise<{ task_id: string }> {
    return this.request('POST', '/crawl/job', { urls, browser_config: {}, crawler_config: config }, 'crawl job');
  }

  startLlmJob(url: string, q: string, schema?: string): Promise<{ task_id: string }> {
    const body: Record<string, unknown> = { url, q, cache: false };
    if (schema) body.schema = schema;
    return this.request('POST', '/llm/job', body, `LLM extraction of ${url}`);
  }

  jobStatus(taskId: string): Promise<JobStatus> {
    const kind = taskId.startsWith('llm_') ? 'llm' : 'crawl';
    return this.request('GET', `/${kind}/job/${encodeURIComponent(taskId)}`, undefined, `status of job ${taskId}`);
  }

  health(): Promise<HealthResponse> {
    return this.request('GET', '/health', undefined, 'health check');
  }

  /**
   * Is Crawl4AI reachable, which version, and does it accept our token? The token check is an
   * authenticated GET of a job id that cannot exist: 404 means accepted, 401 rejected. No crawl
   * is started. Used by the `health` tool and the Worker's `/status` (for `crawl4ai-mcp status`).
   */
  async check(): Promise<OriginCheck> {
    let version: string | undefined;
    try {
      version = (await this.health()).version;
    } catch (e) {
      return { reachable: false, token: 'unknown', ...describe(e) };
    }
    try {
      await this.jobStatus('crawl_00000000');
      return { reachable: true, ...(version ? { version } : {}), token: 'accepted' };
    } catch (e) {
      if (e instanceof OriginHttpError && e.status === 404) return { reachable: true, ...(version ? { version } : {}), token: 'accepted' };
      const token = e instanceof OriginHttpError && (e.status === 401 || e.status === 403) ? 'rejected' : 'unknown';
      return { reachable: true, ...(version ? { version } : {}), token, ...describe(e) };
    }
  }
}

export interface OriginCheck {
  reachable: boolean;
  version?: string;
  token: 'accepted' | 'rejected' | 'unknown';
  error?: string;
  hint?: string;
}

function describe(e: unknown): { error: string; hint?: string } {
  const hint = e instanceof ToolError || e instanceof OriginUnreachableError ? e.hint : undefined;
  return { error: e instanceof Error ? e.message : String(e), ...(hint ? { hint } : {}) };
}

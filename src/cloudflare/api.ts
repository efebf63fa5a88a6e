import { CliError, ExitCode } from '../ground/errors.js';
import { VERSION } from '../ground/version.js';
import { retry, sleep } from '../ground/wait.js';
import { redact } from '../ground/redact.js';
import { CLOUDFLARE_TOKEN_PERMISSIONS, permissionLabel } from './permissions.js';
import type { CloudflareAccount } from './wrangler.js';

/**
 * A small client of the Cloudflare API v4, for the calls wrangler lacks (tunnels, Workers VPC
 * services, token checks). Every answer is the v4 envelope
 * `{success, errors:[{code,message}], messages, result, result_info}`; this client unwraps it and
 * turns failures into a CloudflareApiError (a CliError: exit 3 when the token is refused, 5 when
 * the object does not exist, else 1).
 *
 * Paths are below the API base and may use `{account_id}`, e.g.
 * `api.get('/accounts/{account_id}/cfd_tunnel/' + id)`. The token travels only in the
 * Authorization header; no message, hint or log line built here contains it.
 *
 * Retries (ground/wait retry, full-jitter backoff): 429 on any method, honouring Retry-After up to
 * `maxRetryAfterMs` (a longer wait fails at once, saying how long to wait); 5xx, timeouts and
 * network errors only on idempotent methods (GET, PUT, DELETE), because a repeated POST could
 * create a second object — callers that create look up by name before trying again.
 */

export const DEFAULT_CLOUDFLARE_API_BASE_URL = 'https://api.cloudflare.com/client/v4';

export interface CloudflareApiRetryOptions {
  /** total tries per request, including the first; default 5 */
  attempts?: number;
  /** backoff base / cap in ms; default 500 / 8000 */
  baseMs?: number;
  maxMs?: number;
  /** longest Retry-After honoured; a longer one fails at once; default 60 s */
  maxRetryAfterMs?: number;
  /** give up retrying one request after this long; default 2 min */
  deadlineMs?: number;
}

export interface CloudflareApiOptions {
  /** default: env.CLOUDFLARE_API_BASE_URL, else https://api.cloudflare.com/client/v4 */
  baseUrl?: string;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** per-request timeout in ms; default 30 s */
  timeoutMs?: number;
  retry?: CloudflareApiRetryOptions;
  /** progress lines such as "Cloudflare API rate limited, retrying in 2 s" */
  log?: (line: string) => void;
}

export type QueryValue = string | number | boolean | undefined;
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** override the method's default: may a 5xx / network error be retried? */
  idempotent?: boolean;
}

export interface ApiErrorItem {
  code: number;
  message: string;
}

export interface ResultInfo {
  page?: number;
  per_page?: number;
  count?: number;
  total_count?: number;
  total_pages?: number;
  cursor?: string;
  cursors?: { after?: string; before?: string };
}

export interface Envelope<T> {
  success: boolean;
  errors: ApiErrorItem[];
  messages: unknown[];
  result: T;
  result_info?: ResultInfo;
}

/** Which permission a path needs, so a refusal can name it (the order matters: first match wins). */
const PERMISSION_BY_PATH: ReadonlyArray<{ pattern: RegExp; name: string; access?: string }> = [
  { pattern: /^\/accounts\/[^/]+\/cfd_tunnel(?:[/?]|$)/, name: 'Cloudflare Tunnel' },
  // the API calls crawl4ai-mcp makes there (create, list, delete services) need Admin; Bind is wrangler's
  { pattern: /^\/accounts\/[^/]+\/connectivity\/directory(?:[/?]|$)/, name: 'Connectivity Directory', access: 'Admin' },
  { pattern: /^\/accounts\/[^/]+\/workers\/scripts(?:[/?]|$)/, name: 'Workers Scripts' },
  { pattern: /^\/accounts\/[^/]+\/storage\/kv(?:[/?]|$)/, name: 'Workers KV Storage' },
  { pattern: /^\/accounts\/[^/]+\/containers(?:[/?]|$)/, name: 'Workers Containers' },
  { pattern: /^\/accounts\/[^/?]+\/?(?:\?|$)/, name: 'Account Settings' },
  { pattern: /^\/memberships(?:[/?]|$)/, name: 'Memberships' },
  { pattern: /^\/user\/?(?:\?|$)/, name: 'User Details' },
];

/** "Account › Cloudflare Tunnel › Edit" for a path under cfd_tunnel; undefined when the path does not tell. */
export function permissionForPath(path: string): string | undefined {
  const hit = PERMISSION_BY_PATH.find((p) => p.pattern.test(path));
  const perm = hit && CLOUDFLARE_TOKEN_PERMISSIONS.find((p) => p.name === hit.name && (hit.access === undefined || p.access === hit.access));
  return perm ? permissionLabel(perm) : undefined;
}

const AUTH_CODES = new Set([10000, 9109, 9106]);

export class CloudflareApiError extends CliError {
  /** HTTP status; 0 when no answer came (network error, timeout) */
  readonly status: number;
  readonly codes: number[];
  /** Cloudflare's own error text (all errors joined) */
  readonly apiMessage: string;
  readonly method: string;
  /** path below the API base, with the account id filled in, without the query */
  readonly path: string;
  /** 429: the wait Cloudflare asked for */
  readonly retryAfterMs: number | undefined;

  constructor(init: {
    status: number;
    codes: number[];
    apiMessage: string;
    method: string;
    path: string;
    retryAfterMs?: number;
    cause?: unknown;
  }) {
    const { status, codes, method, path } = init;
    const apiMessage = redact(init.apiMessage);
    const auth = isAuthFailure(status, codes);
    const permission = auth ? permissionForPath(path) : undefined;
    const codeText = codes.length > 0 ? `, code ${codes.join('/')}` : '';
    const where = `${method} ${path}`;
    let message: string;
    let hint: string | undefined;
    let exitCode: number = ExitCode.failed;
    if (auth) {
      exitCode = ExitCode.credentials;
      message = permission
        ? `Cloudflare refused the API token for ${where} (HTTP ${status}${codeText}: ${apiMessage}): the token needs ${permission}`
        : `Cloudflare refused the API token for ${where} (HTTP ${status}${codeText}: ${apiMessage})`;
      hint = permission
        ? `add ${permission} to the token (see templates/policies/cloudflare-token.json) and check CLOUDFLARE_ACCOUNT_ID is the account the token is for`
        : 'check CLOUDFLARE_API_TOKEN is valid and has the permissions in templates/policies/cloudflare-token.json, and CLOUDFLARE_ACCOUNT_ID is right';
    } else if (status === 0) {
      message = `cannot reach the Cloudflare API for ${where}: ${apiMessage}`;
      hint = 'check your network; if CLOUDFLARE_API_BASE_URL is set, check it points at a running endpoint';
    } else if (status === 404) {
      exitCode = ExitCode.notFound;
      message = `Cloudflare API ${where}: not found (HTTP 404${codeText}: ${apiMessage})`;
    } else if (status === 429) {
      message = `Cloudflare API ${where} is rate limited (HTTP 429${codeText}: ${apiMessage})`;
      hint =
        init.retryAfterMs !== undefined
          ? `wait ${Math.ceil(init.retryAfterMs / 1000)} s and run the command again: it resumes where it stopped`
          : 'wait a minute and run the command again: it resumes where it stopped';
    } else {
      message = `Cloudflare API ${where} failed (HTTP ${status}${codeText}: ${apiMessage})`;
      if (status >= 500) hint = 'a Cloudflare-side error; run the command again: it resumes where it stopped';
    }
    super(message, { exitCode, ...(hint !== undefined ? { hint } : {}), ...(init.cause !== undefined ? { cause: init.cause } : {}) });
    this.name = 'CloudflareApiError';
    this.status = status;
    this.codes = codes;
    this.apiMessage = apiMessage;
    this.method = method;
    this.path = path;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** the token was refused (401/403, code 10000 / 9109) */
  get isAuth(): boolean {
    return isAuthFailure(this.status, this.codes);
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }

  hasCode(code: number): boolean {
    return this.codes.includes(code);
  }
}

function isAuthFailure(status: number, codes: number[]): boolean {
  return status === 401 || status === 403 || codes.some((c) => AUTH_CODES.has(c));
}

export function isCloudflareApiError(e: unknown): e is CloudflareApiError {
  return e instanceof CloudflareApiError;
}

/** A 404 from the API (the object is gone): what idempotent deletes tolerate. */
export function isCloudflareNotFound(e: unknown): boolean {
  return e instanceof CloudflareApiError && e.isNotFound;
}

/** Retry-After: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

export class CloudflareApi {
  readonly accountId: string;
  readonly baseUrl: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #retry: Required<CloudflareApiRetryOptions>;
  readonly #log: (line: string) => void;

  constructor(account: CloudflareAccount, opts: CloudflareApiOptions = {}) {
    const env = opts.env ?? process.env;
    this.accountId = account.accountId;
    this.#token = account.apiToken;
    this.baseUrl = (opts.baseUrl ?? (env.CLOUDFLARE_API_BASE_URL || DEFAULT_CLOUDFLARE_API_BASE_URL)).replace(/\/+$/, '');
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retry = {
      attempts: opts.retry?.attempts ?? 5,
      baseMs: opts.retry?.baseMs ?? 500,
      maxMs: opts.retry?.maxMs ?? 8_000,
      maxRetryAfterMs: opts.retry?.maxRetryAfterMs ?? 60_000,
      deadlineMs: opts.retry?.deadlineMs ?? 120_000,
    };
    this.#log = opts.log ?? (() => {});
  }

  /** `/accounts/<id>` + rest */
  accountPath(rest = ''): string {
    return `/accounts/${encodeURIComponent(this.accountId)}${rest}`;
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, undefined, opts).then((e) => e.result);
  }

  post<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, body, opts).then((e) => e.result);
  }

  put<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, body, opts).then((e) => e.result);
  }

  patch<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    return this.request<T>('PATCH', path, body, opts).then((e) => e.result);
  }

  delete<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, undefined, opts).then((e) => e.result);
  }

  /**
   * Every item of a paged list: follows `result_info.cursor` (or `cursors.after`) when the API
   * pages by cursor, else `page` up to `total_pages` (or until a short / empty page).
   */
  async list<T>(path: string, query: Query = {}): Promise<T[]> {
    const items: T[] = [];
    let page = typeof query.page === 'number' ? query.page : Number(query.page ?? 1) || 1;
    let cursor: string | undefined;
    for (let round = 0; round < 10_000; round++) {
      const q: Query = { ...query };
      if (cursor !== undefined) q.cursor = cursor;
      else if (round > 0 || query.page !== undefined) q.page = page;
      const env = await this.request<T[]>('GET', path, undefined, { query: q });
      if (!Array.isArray(env.result)) {
        throw new CliError(`Cloudflare API GET ${this.fill(path)} answered without a list`, {
          hint: 'check CLOUDFLARE_API_BASE_URL points at the Cloudflare API',
        });
      }
      items.push(...env.result);
      const info = env.result_info;
      const next = info?.cursor || info?.cursors?.after;
      if (next) {
        if (env.result.length === 0 || next === cursor) break;
        cursor = next;
        continue;
      }
      if (cursor !== undefined || env.result.length === 0 || !info) break;
      const current = info.page ?? page;
      if (info.total_pages !== undefined) {
        if (current >= info.total_pages) break;
      } else if (info.per_page !== undefined && env.result.length < info.per_page) {
        break;
      }
      page = current + 1;
    }
    return items;
  }

  /** One API call with retries; answers the whole envelope. */
  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<Envelope<T>> {
    const m = method.toUpperCase();
    const idempotent = opts.idempotent ?? IDEMPOTENT.has(m);
    const filled = this.fill(path);
    const url = this.url(filled, opts.query);
    const bare = filled.split('?')[0]!;
    let waitFirst = 0;
    return retry(
      async () => {
        if (waitFirst > 0) {
          await sleep(waitFirst);
          waitFirst = 0;
        }
        return this.once<T>(m, url, bare, body);
      },
      {
        attempts: this.#retry.attempts,
        baseMs: this.#retry.baseMs,
        maxMs: this.#retry.maxMs,
        deadlineMs: this.#retry.deadlineMs,
        retryIf: (e) => {
          if (!(e instanceof CloudflareApiError)) return false;
          if (e.status === 429) return e.retryAfterMs === undefined || e.retryAfterMs <= this.#retry.maxRetryAfterMs;
          return idempotent && (e.status === 0 || e.status >= 500);
        },
        onRetry: (e, attempt, delayMs) => {
          const err = e as CloudflareApiError;
          if (err.status === 429) waitFirst = err.retryAfterMs ?? 0;
          const waitMs = delayMs + waitFirst;
          const why = err.status === 429 ? 'rate limited' : err.status === 0 ? 'unreachable' : `HTTP ${err.status}`;
          this.#log(`Cloudflare API ${m} ${bare}: ${why}, retrying in ${(waitMs / 1000).toFixed(1)} s (attempt ${attempt + 1})`);
        },
      },
    );
  }

  private fill(path: string): string {
    const p = path.startsWith('/') ? path : `/${path}`;
    return p.replaceAll('{account_id}', encodeURIComponent(this.accountId));
  }

  private url(path: string, query?: Query): string {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url.toString();
  }

  private async once<T>(method: string, url: string, path: string, body: unknown): Promise<Envelope<T>> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#token}`,
      accept: 'application/json',
      'user-agent': `crawl4ai-mcp/${VERSION}`,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      const reason = e instanceof Error ? (e.name === 'TimeoutError' ? `no answer within ${this.#timeoutMs / 1000} s` : describeNetworkError(e)) : String(e);
      throw new CloudflareApiError({ status: 0, codes: [], apiMessage: reason, method, path, cause: e });
    }
    let envelope: Partial<Envelope<T>> | undefined;
    if (text.trim() !== '') {
      try {
        envelope = JSON.parse(text) as Partial<Envelope<T>>;
      } catch {
        envelope = undefined;
      }
    }
    const errors = Array.isArray(envelope?.errors) ? envelope.errors : [];
    if (!res.ok || envelope?.success === false || (envelope === undefined && text.trim() !== '')) {
      const codes = errors.map((x) => Number(x?.code)).filter((c) => Number.isFinite(c));
      const apiMessage =
        errors.map((x) => String(x?.message ?? '')).filter(Boolean).join('; ') ||
        (envelope === undefined ? `${res.statusText || 'non-JSON answer'}: ${text.replace(/\s+/g, ' ').slice(0, 200)}` : res.statusText || 'no error message');
      const retryAfterMs = res.status === 429 ? parseRetryAfter(res.headers.get('retry-after')) : undefined;
      throw new CloudflareApiError({
        status: res.status,
        codes,
        apiMessage,
        method,
        path,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    return {
      success: true,
      errors,
      messages: Array.isArray(envelope?.messages) ? envelope.messages : [],
      result: (envelope?.result ?? null) as T,
      ...(envelope?.result_info ? { result_info: envelope.result_info } : {}),
    };
  }
}

function describeNetworkError(e: Error): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${e.message} (${cause.code})` : cause?.message ? `${e.message}: ${cause.message}` : e.message;
}

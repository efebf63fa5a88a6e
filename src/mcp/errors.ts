/**
 * Failures as an LLM can use them: every tool failure becomes an `isError` result with one line
 * saying what happened and one line saying what to do (never a protocol error, never a 500).
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { OriginUnreachableError } from './origin.js';

/** A failure a tool reports to the model. */
export class ToolError extends Error {
  readonly hint: string | undefined;
  readonly status: number | undefined;
  constructor(message: string, hint?: string, status?: number) {
    super(message);
    this.name = 'ToolError';
    this.hint = hint;
    this.status = status;
  }
}

/** The origin answered with a non-2xx status. */
export class OriginHttpError extends ToolError {
  readonly body: string;
  readonly correlationId: string | undefined;
  constructor(message: string, hint: string | undefined, status: number, body: string, correlationId?: string) {
    super(message, hint, status);
    this.name = 'OriginHttpError';
    this.body = body;
    this.correlationId = correlationId;
  }
}

/** Pulls FastAPI's `detail` (string or 422 list) or our own `error` out of a body. */
export function detailOf(bodyText: string): { detail?: string; correlationId?: string } {
  try {
    const j = JSON.parse(bodyText) as { detail?: unknown; error?: unknown; correlation_id?: unknown };
    let detail: string | undefined;
    if (typeof j.detail === 'string') detail = j.detail;
    else if (Array.isArray(j.detail)) {
      detail = j.detail
        .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join('.')}: ${d.msg ?? ''}`.trim())
        .join('; ');
    } else if (typeof j.error === 'string') detail = j.error;
    const correlationId = typeof j.correlation_id === 'string' ? j.correlation_id : undefined;
    return { detail, correlationId };
  } catch {
    const t = bodyText.trim();
    return t ? { detail: t.slice(0, 300) } : {};
  }
}

const TIMEOUT_HINT =
  'retry once; for slow pages or many URLs use start_crawl_job and poll get_job_status (jobs are not bound by the ~55 s per-call limit)';

/**
 * Maps an origin status (Crawl4AI's own, or one a Cloudflare edge puts in front of it) to a
 * message + hint. `what` names the operation, e.g. "scrape of https://x".
 */
export function originHttpError(status: number, bodyText: string, what: string): OriginHttpError {
  const { detail, correlationId } = detailOf(bodyText);
  const body = bodyText.slice(0, 2000);
  const say = (message: string, hint?: string) => new OriginHttpError(message, hint, status, body, correlationId);
  const edgeCode = /error code:\s*(\d{3,5})/i.exec(bodyText)?.[1];

  if (status === 401) {
    return say(
      `Crawl4AI rejected the Worker's token (401 ${detail ?? 'Authentication required'}): the CRAWL4AI_API_TOKEN secret does not match the token the Crawl4AI server was started with`,
      'the deployment owner should re-sync the token (`crawl4ai-mcp status` shows the mismatch; redeploy to fix)',
    );
  }
  if (status === 403 && edgeCode === '1003') {
    return say(
      'Cloudflare refused to fetch the origin by bare IP address (403, error code 1003)',
      'ORIGIN_URL must use a hostname (e.g. <a-b-c-d>.sslip.io or your own name), not an IP address',
    );
  }
  if (status === 400 && detail && /SSRF/i.test(detail)) {
    return say(
      `Crawl4AI blocked the URL as a private or internal address (${detail})`,
      'only public http(s) URLs can be crawled; check the URL for typos',
    );
  }
  if (status === 400 && detail && /Rejected config/i.test(detail)) {
    return say(`Crawl4AI refused the request options (${detail})`, 'drop the option named in the message and retry');
  }
  if (status === 400 || status === 422) {
    return say(`Crawl4AI refused the ${what} (${status}${detail ? `: ${detail}` : ''})`, 'check the URL and the options, then retry');
  }
  if (status === 403) {
    return say(
      `Crawl4AI refused the ${what} (403${detail ? `: ${detail}` : ''})`,
      'this feature is disabled on the Crawl4AI server or the token lacks the scope for it',
    );
  }
  if (status === 404) {
    return say(`not found on the Crawl4AI server (404${detail ? `: ${detail}` : ''})`, 'job results and artifacts expire after 1 hour; start a new job or render again');
  }
  if (status === 413) return say('the request is too large for Crawl4AI (413)', 'send fewer URLs per call');
  if (status === 429) {
    return say(`Crawl4AI is rate-limiting this caller (429${detail ? `: ${detail}` : ''})`, 'wait a few seconds and retry, or wait for running jobs to finish');
  }
  if (status === 500) {
    if (correlationId) {
      return say(
        `Crawl4AI failed to crawl every URL of the ${what} (500, correlation_id ${correlationId})`,
        `the page(s) could not be loaded (site down, blocked or a browser crash); the Crawl4AI server log has the details under correlation_id ${correlationId}`,
      );
    }
    return say(`Crawl4AI had an internal error (500${detail ? `: ${detail}` : ''})`, 'retry once; if it persists, check the Crawl4AI server log');
  }
  if (status === 504 || status === 524 || status === 522) {
    const why =
      status === 504
        ? `Crawl4AI timed out (504${detail ? `: ${detail}` : ''})`
        : status === 524
          ? 'the origin took too long to answer through Cloudflare (524 timeout)'
          : 'Cloudflare could not connect to the origin in time (522 connection timed out)';
    return say(why, status === 504 || status === 524 ? TIMEOUT_HINT : 'is the crawler VM running and reachable? run `crawl4ai-mcp status`');
  }
  if (status === 503) {
    return say(`Crawl4AI is busy (503${detail ? `: ${detail}` : ''})`, 'retry in a few seconds');
  }
  if (status === 502) return say(`bad gateway in front of Crawl4AI (502${detail ? `: ${detail}` : ''})`, 'Crawl4AI may be restarting; retry shortly or run `crawl4ai-mcp status`');
  if (status === 521) {
    return say('the origin refused the connection (521: web server is down or the port is closed)', 'is Crawl4AI (or Caddy) running on the VM? run `crawl4ai-mcp status`');
  }
  if (status === 523) return say('the origin is unreachable from Cloudflare (523)', 'check the VM and its firewall; run `crawl4ai-mcp status`');
  if (status === 525) {
    return say('the TLS handshake with the origin failed (525 SSL handshake failed)', 'the origin must serve HTTPS with a valid certificate for its hostname; run `crawl4ai-mcp status`');
  }
  if (status === 526) {
    return say(
      "the origin's TLS certificate is not trusted by Cloudflare (526 invalid SSL certificate)",
      'self-signed certificates do not work; the origin needs a publicly trusted certificate (Caddy obtains one automatically); run `crawl4ai-mcp status`',
    );
  }
  if (status === 530 || edgeCode === '1016') {
    return say(
      `the origin hostname does not resolve (${status}${edgeCode ? `, error code ${edgeCode}` : ''}: DNS error)`,
      'check the hostname in ORIGIN_URL and its DNS record; run `crawl4ai-mcp status`',
    );
  }
  if (status >= 520 && status < 530) {
    return say(`Cloudflare could not get a valid answer from the origin (${status})`, 'run `crawl4ai-mcp status`');
  }
  return say(`Crawl4AI answered ${status} to the ${what}${detail ? `: ${detail}` : ''}`, 'retry once; if it persists run `crawl4ai-mcp status`');
}

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

/** The isError result for anything a tool throws. */
export function errorResult(e: unknown): CallToolResult {
  let message: string;
  let hint: string | undefined;
  if (e instanceof ToolError || e instanceof OriginUnreachableError) {
    message = e.message;
    hint = e.hint;
  } else if (isAbortError(e)) {
    message = 'the call ran out of time waiting for Crawl4AI';
    hint = TIMEOUT_HINT;
  } else {
    // a bug or an answer of an unexpected shape: its message names code, not the user's problem
    const correlationId = crypto.randomUUID();
    console.error(`unexpected tool error ${correlationId}:`, e instanceof Error ? (e.stack ?? e.message) : String(e));
    message = `unexpected error (correlation id ${correlationId})`;
    hint = 'retry once; if it persists, report it with this correlation id (the server log has the details)';
  }
  const text = hint ? `Error: ${message}\nHint: ${hint}` : `Error: ${message}`;
  return { isError: true, content: [{ type: 'text', text }] };
}

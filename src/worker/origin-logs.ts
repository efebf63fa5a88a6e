/**
 * Crawl4AI's recent log lines for `GET /admin/origin/logs` (and `crawl4ai-mcp logs`): its monitor
 * endpoints `/monitor/logs/errors` (failed requests) and `/monitor/logs/janitor` (browser-pool
 * cleanup events), merged into one time-ordered list of plain lines, so the CLI does not depend on
 * Crawl4AI's shapes. Both are asked at once; one failing still returns the other, with its error.
 */
import { Crawl4aiClient } from '../mcp/crawl4ai.js';
import type { Crawl4aiOrigin } from '../mcp/origin.js';

export interface OriginLogLine {
  /** ISO time */
  time: string;
  source: 'errors' | 'janitor';
  text: string;
}

export interface OriginLogs {
  lines: OriginLogLine[];
  /** per source, when it could not be read (e.g. public mode before its Caddy allowed the route) */
  unavailable?: Partial<Record<OriginLogLine['source'], string>>;
}

interface ErrorEntry {
  timestamp?: number | string;
  endpoint?: string;
  url?: string;
  error?: string;
  request_id?: string;
}
interface JanitorEntry {
  timestamp?: number | string;
  type?: string;
  sig?: string;
  details?: Record<string, unknown>;
}

/** Crawl4AI stamps events with time.time() (seconds); accept ISO text too. */
function isoOf(t: number | string | undefined): string {
  if (typeof t === 'number') return new Date(t * 1000).toISOString();
  const d = t ? new Date(t) : new Date(NaN);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

/** Only the host of a crawled URL: the Worker never stores or relays full URLs with queries. */
function hostOf(url: string | undefined): string {
  if (!url) return '';
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

export const MAX_LOG_LINES = 500;

export async function originLogs(origin: Crawl4aiOrigin, limit: number): Promise<OriginLogs> {
  const client = new Crawl4aiClient(origin, { deadline: Date.now() + 10_000 });
  const [errors, janitor] = await Promise.allSettled([
    client.request<{ errors?: ErrorEntry[] }>('GET', `/monitor/logs/errors?limit=${limit}`, undefined, 'error log'),
    client.request<{ events?: JanitorEntry[] }>('GET', `/monitor/logs/janitor?limit=${limit}`, undefined, 'janitor log'),
  ]);
  const lines: OriginLogLine[] = [];
  const unavailable: NonNullable<OriginLogs['unavailable']> = {};
  if (errors.status === 'fulfilled') {
    for (const e of errors.value.errors ?? []) {
      const host = hostOf(e.url);
      lines.push({ time: isoOf(e.timestamp), source: 'errors', text: `${e.endpoint ?? '?'}${host ? ` ${host}` : ''}: ${e.error ?? 'error'}` });
    }
  } else unavailable.errors = errors.reason instanceof Error ? errors.reason.message : String(errors.reason);
  if (janitor.status === 'fulfilled') {
    for (const e of janitor.value.events ?? []) {
      const details = e.details && Object.keys(e.details).length ? ` ${JSON.stringify(e.details)}` : '';
      lines.push({ time: isoOf(e.timestamp), source: 'janitor', text: `${e.type ?? 'event'}${e.sig ? ` ${e.sig}` : ''}${details}` });
    }
  } else unavailable.janitor = janitor.reason instanceof Error ? janitor.reason.message : String(janitor.reason);
  lines.sort((a, b) => a.time.localeCompare(b.time));
  return { lines: lines.slice(-limit), ...(Object.keys(unavailable).length ? { unavailable } : {}) };
}

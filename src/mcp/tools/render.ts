/** Turning CrawlResults into text an LLM reads well. */
import { markdownOf, type CrawlLink, type CrawlResult } from '../crawl4ai.js';
import { ToolError } from '../errors.js';

export type ScrapeFormat = 'markdown' | 'html' | 'links' | 'metadata';

export function titleOf(r: CrawlResult): string | undefined {
  const t = r.metadata?.title;
  return typeof t === 'string' && t.trim() ? t.trim() : undefined;
}

function linkLines(links: CrawlLink[] | null | undefined): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const l of links ?? []) {
    if (!l?.href || seen.has(l.href)) continue;
    seen.add(l.href);
    const t = (l.text ?? '').replace(/\s+/g, ' ').trim();
    out.push(t ? `- ${l.href} — ${t}` : `- ${l.href}`);
  }
  return out;
}

/** The document a scrape returns in the requested format. */
export function documentOf(r: CrawlResult, format: ScrapeFormat, preferFit: boolean): string {
  switch (format) {
    case 'markdown':
      return markdownOf(r, preferFit);
    case 'html':
      return r.cleaned_html ?? r.html ?? '';
    case 'links': {
      const internal = linkLines(r.links?.internal);
      const external = linkLines(r.links?.external);
      return [`Internal links (${internal.length}):`, ...internal, '', `External links (${external.length}):`, ...external].join('\n');
    }
    case 'metadata':
      return JSON.stringify(
        { url: r.url, redirected_url: r.redirected_url ?? null, status_code: r.status_code ?? null, metadata: r.metadata ?? {} },
        null,
        2,
      );
  }
}

export function isRobotsBlocked(r: CrawlResult): boolean {
  return !r.success && /robots\.txt/i.test(r.error_message ?? '');
}

/** A failed CrawlResult as a ToolError with a useful hint. */
export function failedResultError(r: CrawlResult, url: string): ToolError {
  const why = (r.error_message ?? '').trim() || 'unknown error';
  const status = r.status_code ? ` (HTTP ${r.status_code})` : '';
  let hint = 'check that the URL opens in a browser; retry with bypass_cache=true, or wait_for a selector if the page renders late';
  if (isRobotsBlocked(r)) hint = "the site's robots.txt disallows this page; it cannot be crawled";
  else if (/ERR_NAME_NOT_RESOLVED|getaddrinfo|DNS/i.test(why)) hint = 'the host name does not resolve; check the URL for typos';
  else if (/timeout/i.test(why)) hint = 'the page was too slow; retry, or use start_crawl_job';
  else if (r.status_code === 404) hint = 'the page does not exist (404); check the URL, or use map to list the pages of the site';
  return new ToolError(`could not fetch ${url}${status}: ${why.slice(0, 500)}`, hint);
}

/** The result for `url` among Crawl4AI's results (it may normalise or reorder URLs). */
export function pickResult(results: CrawlResult[], url: string, index: number): CrawlResult | undefined {
  const norm = (u: string) => {
    try {
      const x = new URL(u);
      x.hash = '';
      return x.href.replace(/\/$/, '');
    } catch {
      return u;
    }
  };
  const want = norm(url);
  return results.find((r) => r.url === url) ?? results.find((r) => norm(r.url) === want) ?? (results.length === 1 && index === 0 ? results[0] : undefined);
}

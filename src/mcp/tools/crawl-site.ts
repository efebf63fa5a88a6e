/**
 * crawl_site: Crawl4AI 0.9 refuses `deep_crawl_strategy` over HTTP, so the walk happens here:
 * breadth-first over each page's `links.internal`, in batched `/crawl` calls, within a page limit,
 * a depth limit, path globs, the seed's host, robots.txt (Crawl4AI's `check_robots_txt`) and an
 * overall time budget so the answer still arrives inside one MCP call.
 */
import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { clientFor, normalizeUrl, privateRedirectReason, requirePublicUrl, text } from '../context.js';
import { crawlerConfig, markdownOf, type CrawlResult } from '../crawl4ai.js';
import { isAbortError, OriginHttpError } from '../errors.js';
import { passesFilters } from '../glob.js';
import { pageText } from '../paging.js';
import { checkPublicUrl } from '../ssrf.js';
import { isRobotsBlocked, pickResult, titleOf } from './render.js';
import { bypassCacheField, mainContentField, maxCharsField, urlField } from './scrape.js';
import { defineTool } from './types.js';

export const CRAWL_SITE_MAX_DEPTH = 3;
export const CRAWL_SITE_MAX_PAGES = 50;
/** URLs per /crawl call. */
export const CRAWL_SITE_BATCH = 10;

const SKIP_EXT = /\.(pdf|zip|gz|tgz|bz2|xz|rar|7z|png|jpe?g|gif|webp|avif|svg|ico|bmp|tiff?|mp3|mp4|m4a|wav|ogg|mov|avi|webm|mkv|woff2?|ttf|otf|eot|css|js|mjs|json|xml|rss|atom|exe|dmg|msi|deb|rpm|apk|iso|bin|csv|xlsx?|docx?|pptx?)$/i;

const globList = z.array(z.string().min(1).max(200)).max(20);

interface Visit {
  url: string;
  depth: number;
}

interface PageOut {
  url: string;
  depth: number;
  title?: string;
  markdown: string;
}

function hostKey(h: string): string {
  return h.toLowerCase().replace(/^www\./, '');
}

export const crawlSiteTool = defineTool({
  name: 'crawl_site',
  title: 'Crawl a website',
  description: [
    'Read several pages of ONE website: starting at url, follow its internal links breadth-first (up to max_depth link levels and max_pages pages) and return each page as markdown. Respects robots.txt; stays on the start page\'s host.',
    '',
    'Best for: "read the docs under /guide", summarising a small site or a section of one, collecting related pages you do not have the URLs of.',
    'Not for: a single page (use scrape), just listing URLs (use map: far cheaper), large sites or more than 50 pages (use map, then start_crawl_job with the URLs you need).',
    'Common mistakes: high max_depth with low max_pages (the limit is reached at the first levels; the walk is breadth-first); forgetting include_paths to stay in a section, e.g. ["/docs/**"]; expecting full pages: max_chars is shared between pages, read a cut page in full with scrape. One call stops after about 50 s and returns what it has.',
    'Globs match the URL path: * = any characters except "/", ** = anything, "/docs" also matches everything under /docs/. The start page is always crawled.',
    'Returns: a summary (pages, depth reached, skipped, why it stopped, links not followed), then one block per page.',
  ].join('\n'),
  inputSchema: z.object({
    url: urlField.describe('Start page (absolute http(s) URL); the crawl stays on its host'),
    max_depth: z.number().int().min(0).max(CRAWL_SITE_MAX_DEPTH).default(2).describe('Link levels to follow from the start page, 0-3 (default 2; 0 = the start page only)'),
    max_pages: z.number().int().min(1).max(CRAWL_SITE_MAX_PAGES).default(10).describe('Maximum pages fetched, 1-50 (default 10)'),
    include_paths: globList.optional().describe('Only follow URLs whose path matches one of these globs, e.g. ["/docs/**", "/blog/*"]'),
    exclude_paths: globList.optional().describe('Never follow URLs whose path matches one of these globs, e.g. ["/tag/**", "*.pdf"]'),
    allow_subdomains: z.boolean().default(false).describe('Also follow links to subdomains of the start host (default false: the exact host only, www. ignored)'),
    respect_robots: z.boolean().default(true).describe("Honour the site's robots.txt (default true)"),
    only_main_content: mainContentField,
    bypass_cache: bypassCacheField,
    max_chars: maxCharsField(40_000, 'all pages together (each page gets an equal share)'),
  }),
  annotations: { title: 'Crawl a website', readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: true },
  async run(args, cfg, ctx): Promise<CallToolResult> {
    const seed = requirePublicUrl(args.url);
    const seedUrl = normalizeUrl(seed.href);
    const seedHost = hostKey(seed.hostname);
    const started = Date.now();
    const client = clientFor(cfg, ctx, cfg.crawlSiteBudgetMs);

    const sameSite = (u: URL) => {
      const h = hostKey(u.hostname);
      return h === seedHost || (args.allow_subdomains && h.endsWith('.' + seedHost));
    };

    const seen = new Set<string>([seedUrl]);
    let level: Visit[] = [{ url: seedUrl, depth: 0 }];
    const pages: PageOut[] = [];
    const robots: string[] = [];
    const failed: Array<{ url: string; why: string }> = [];
    const refused: string[] = [];
    const notFollowed: string[] = [];
    let filtered = 0;
    let redirects = 0;
    let sent = 0;
    let depthReached = 0;
    let stopReason = 'no more links to follow';

    const config = (pageTimeoutMs: number) =>
      crawlerConfig({
        fit: args.only_main_content,
        bypassCache: args.bypass_cache,
        checkRobotsTxt: args.respect_robots,
        pageTimeoutMs,
      });

    const handle = (v: Visit, r: CrawlResult | undefined, next: Visit[]) => {
      if (!r) {
        failed.push({ url: v.url, why: 'no result from Crawl4AI' });
        return;
      }
      if (!r.success) {
        if (isRobotsBlocked(r)) robots.push(v.url);
        else failed.push({ url: v.url, why: `${(r.error_message ?? 'failed').slice(0, 160)}${r.status_code ? ` (HTTP ${r.status_code})` : ''}` });
        return;
      }
      const redirect = privateRedirectReason(r);
      if (redirect) {
        // neither its content nor its links: they come from the private address
        refused.push(`${v.url} (${redirect})`);
        return;
      }
      const final = r.redirected_url ? normalizeUrl(r.redirected_url) : v.url;
      if (final !== v.url) {
        // a redirect to a page this crawl already has (or will fetch) is not a page of its own
        if (seen.has(final)) {
          redirects++;
          return;
        }
        seen.add(final);
      }
      if (r.status_code && r.status_code >= 400) {
        failed.push({ url: v.url, why: `HTTP ${r.status_code}` });
        return;
      }
      const out: PageOut = { url: v.url, depth: v.depth, markdown: markdownOf(r, args.only_main_content) };
      const t = titleOf(r);
      if (t) out.title = t;
      pages.push(out);
      depthReached = Math.max(depthReached, v.depth);
      if (v.depth >= args.max_depth) return;
      for (const l of r.links?.internal ?? []) {
        if (!l?.href) continue;
        let u: URL;
        try {
          u = new URL(l.href, r.redirected_url ?? r.url ?? v.url);
        } catch {
          continue;
        }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') continue;
        u.hash = '';
        const key = u.href;
        if (seen.has(key)) continue;
        seen.add(key);
        if (!sameSite(u) || SKIP_EXT.test(u.pathname) || !checkPublicUrl(key).ok) continue;
        if (!passesFilters(u, args.include_paths, args.exclude_paths)) {
          filtered++;
          continue;
        }
        next.push({ url: key, depth: v.depth + 1 });
      }
    };

    outer: while (level.length) {
      const next: Visit[] = [];
      let i = 0;
      while (i < level.length) {
        if (sent >= args.max_pages) {
          stopReason = `max_pages (${args.max_pages}) reached`;
          notFollowed.push(...level.slice(i).map((v) => v.url), ...next.map((v) => v.url));
          break outer;
        }
        const left = started + cfg.crawlSiteBudgetMs - Date.now();
        if (left < 3_000) {
          stopReason = `time budget (~${Math.round(cfg.crawlSiteBudgetMs / 1000)} s per call) used up`;
          notFollowed.push(...level.slice(i).map((v) => v.url), ...next.map((v) => v.url));
          break outer;
        }
        const batch = level.slice(i, i + Math.min(CRAWL_SITE_BATCH, args.max_pages - sent));
        i += batch.length;
        sent += batch.length;
        const urls = batch.map((v) => v.url);
        try {
          const res = await client.crawl(urls, config(Math.min(30_000, left - 2_000)), `crawl of ${urls.length} page(s) of ${seed.host}`);
          batch.forEach((v, k) => handle(v, pickResult(res.results ?? [], v.url, batch.length === 1 ? 0 : k), next));
        } catch (e) {
          if (e instanceof OriginHttpError && e.status === 500 && e.correlationId) {
            // every URL of this batch failed; the walk goes on with the rest
            for (const v of batch) failed.push({ url: v.url, why: `failed (correlation_id ${e.correlationId})` });
          } else if (isAbortError(e) && !ctx?.mcpReq.signal.aborted && pages.length + failed.length > 0) {
            stopReason = `time budget (~${Math.round(cfg.crawlSiteBudgetMs / 1000)} s per call) used up while fetching ${urls.length} page(s)`;
            notFollowed.push(...urls, ...level.slice(i).map((v) => v.url), ...next.map((v) => v.url));
            break outer;
          } else if (pages.length === 0) {
            throw e;
          } else {
            stopReason = `Crawl4AI failed mid-crawl: ${e instanceof Error ? e.message : String(e)}`;
            break outer;
          }
        }
      }
      level = next;
    }

    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const summary = [
      `Crawled ${pages.length} page${pages.length === 1 ? '' : 's'} of ${seed.host} starting at ${seedUrl} in ${secs} s (max_depth ${args.max_depth}, max_pages ${args.max_pages}; depth reached ${depthReached}).`,
      `Stopped: ${stopReason}.`,
    ];
    if (refused.length) summary.push(`Refused (${refused.length}): ${refused.slice(0, 10).join('; ')}${refused.length > 10 ? '; …' : ''}`);
    if (robots.length) summary.push(`Skipped by robots.txt (${robots.length}): ${robots.slice(0, 10).join(', ')}${robots.length > 10 ? ', …' : ''}`);
    if (failed.length) summary.push(`Failed (${failed.length}): ${failed.slice(0, 10).map((f) => `${f.url} (${f.why})`).join('; ')}${failed.length > 10 ? '; …' : ''}`);
    if (redirects) summary.push(`${redirects} URL${redirects === 1 ? '' : 's'} redirected to pages already crawled.`);
    if (filtered) summary.push(`${filtered} link${filtered === 1 ? '' : 's'} left out by include_paths/exclude_paths.`);
    if (notFollowed.length) {
      summary.push(
        `Found but not fetched (${notFollowed.length}): ${notFollowed.slice(0, 20).join(', ')}${notFollowed.length > 20 ? ', …' : ''}. Read them with batch_scrape or start_crawl_job.`,
      );
    }

    const share = Math.max(500, Math.floor(args.max_chars / Math.max(1, pages.length)));
    const blocks = pages.map((p) => {
      const head = `## ${p.url} (depth ${p.depth})${p.title ? ` — ${p.title}` : ''}`;
      if (p.markdown.length <= share) return `${head}\n\n${p.markdown}`;
      const pg = pageText(p.markdown, 0, share);
      return `${head}\n\n${pg.chunk}\n[Cut at ${pg.end} of ${pg.total} characters: read the rest with scrape url="${p.url}" offset=${pg.end}.]`;
    });
    const result: CallToolResult = { content: [text(summary.join('\n')), ...blocks.map(text)] };
    if (pages.length === 0) result.isError = true;
    return result;
  },
});

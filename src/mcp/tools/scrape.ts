import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { clientFor, ok, PRIVATE_REDIRECT_HINT, privateRedirectReason, requirePublicFinalUrl, requirePublicUrl, text } from '../context.js';
import { crawlerConfig, type CrawlResult } from '../crawl4ai.js';
import { OriginHttpError, ToolError } from '../errors.js';
import { clip, MAX_MAX_CHARS, pageText, pagingNotice } from '../paging.js';
import { defineTool } from './types.js';
import { documentOf, failedResultError, pickResult, titleOf, type ScrapeFormat } from './render.js';

export const urlField = z.string().min(1).max(4096).describe('Absolute http(s) URL of a public web page, e.g. "https://docs.example.com/guide"');
export const formatField = z
  .enum(['markdown', 'html', 'links', 'metadata'])
  .default('markdown')
  .describe('markdown (default, best for reading), html (cleaned HTML, long), links (the links on the page), metadata (title, description, og:* tags, status)');
export const mainContentField = z
  .boolean()
  .default(true)
  .describe('true (default): main content only (navigation, footers and boilerplate pruned); false: the whole page as markdown');
export const cssSelectorField = z.string().max(500).optional().describe('Only the part of the page matching this CSS selector, e.g. "article" or "#content"');
export const waitForField = z
  .string()
  .max(500)
  .optional()
  .describe('CSS selector to wait for before reading the page (for content rendered late by JavaScript), e.g. ".results li"');
export const bypassCacheField = z.boolean().default(false).describe("true: fetch fresh, ignoring Crawl4AI's cache (default false: a cached copy may be used)");
export const maxCharsField = (dflt: number, what = 'the answer') =>
  z
    .number()
    .int()
    .min(500)
    .max(MAX_MAX_CHARS)
    .default(dflt)
    .describe(`Maximum characters of ${what} (default ${dflt}, ~${Math.round(dflt / 4000)}k tokens). Longer content is cut and the notice names the next offset.`);
export const offsetField = z.number().int().min(0).default(0).describe('Character offset to start from; use the offset named in a previous truncation notice');

export function waitForParam(w: string | undefined): string | undefined {
  if (!w) return undefined;
  const s = w.trim();
  if (/^js:/i.test(s)) throw new ToolError('wait_for takes a CSS selector; JavaScript conditions are not allowed', 'pass a CSS selector such as ".loaded" or "css:#app main"');
  return /^css:/i.test(s) ? s : `css:${s}`;
}

function scrapeHeader(r: CrawlResult, url: string): string {
  const parts = [`Source: ${r.redirected_url && r.redirected_url !== url ? `${url} → ${r.redirected_url}` : url}`];
  const t = titleOf(r);
  if (t) parts.push(`Title: ${t}`);
  if (r.status_code) parts.push(`HTTP ${r.status_code}`);
  return parts.join(' · ');
}

export const scrapeTool = defineTool({
  name: 'scrape',
  title: 'Scrape a web page',
  description: [
    'Fetch ONE web page with your own Crawl4AI server (a real headless browser, so JavaScript-rendered pages work) and return its content as clean markdown.',
    '',
    'Best for: reading a single known URL: an article, a docs page, a product page.',
    'Not for: several URLs (use batch_scrape), finding the pages of a site (use map), many pages of a site (use crawl_site), specific fields as JSON (use extract), a picture of the page (use screenshot).',
    'Common mistakes: passing a search query instead of a URL; asking for html when markdown is enough (html is far longer); stopping at a truncation notice: long pages come in chunks of max_chars, call scrape again with the same url and the offset the notice names.',
    'Returns: a short header (source, title, HTTP status), the content, and a notice when it was cut.',
  ].join('\n'),
  inputSchema: z.object({
    url: urlField,
    format: formatField,
    only_main_content: mainContentField,
    css_selector: cssSelectorField,
    wait_for: waitForField,
    bypass_cache: bypassCacheField,
    max_chars: maxCharsField(40_000, 'content returned'),
    offset: offsetField,
  }),
  annotations: { title: 'Scrape a web page', readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: true },
  async run(args, cfg, ctx): Promise<CallToolResult> {
    const url = requirePublicUrl(args.url).href;
    const format = args.format as ScrapeFormat;
    const fit = format === 'markdown' && args.only_main_content;
    const client = clientFor(cfg, ctx);
    const config = crawlerConfig({
      fit,
      cssSelector: args.css_selector,
      waitFor: waitForParam(args.wait_for),
      bypassCache: args.bypass_cache,
      pageTimeoutMs: Math.min(45_000, client.remainingMs() - 5_000),
    });
    const res = await client.crawl([url], config, `scrape of ${url}`);
    const r = pickResult(res.results ?? [], url, 0);
    if (!r) throw new ToolError(`Crawl4AI returned no result for ${url}`, 'retry once');
    if (!r.success) throw failedResultError(r, url);
    requirePublicFinalUrl(r, url);
    const doc = documentOf(r, format, fit);
    const header = scrapeHeader(r, url);
    if (!doc.trim()) {
      const why = args.css_selector ? `the css_selector "${args.css_selector}" matched nothing` : 'the page has no readable text';
      return ok(text(`${header}\n\n(empty: ${why}. Try only_main_content=false, a wait_for selector for late content, or format=html.)`));
    }
    const page = pageText(doc, args.offset, args.max_chars);
    if (args.offset > 0 && page.start >= page.total) {
      return ok(text(`${header}\n\n(offset ${args.offset} is past the end: the content has ${page.total} characters.)`));
    }
    const notice = pagingNotice(page, `scrape with url="${url}"`);
    return notice ? ok(text(header), text(page.chunk), text(notice)) : ok(text(header), text(page.chunk));
  },
});

export const batchScrapeTool = defineTool({
  name: 'batch_scrape',
  title: 'Scrape several web pages',
  description: [
    'Fetch up to 20 known URLs in one call with your Crawl4AI server and return each as markdown, with a success or error line per URL.',
    '',
    'Best for: reading a handful of pages you already have the URLs of (search results, links from map).',
    'Not for: one URL (use scrape: it pages long content), discovering pages (use map or crawl_site), more than 20 URLs or slow sites (use start_crawl_job).',
    'Common mistakes: expecting every page in full: max_chars is shared between the URLs, so each page is cut to its share; read a cut page in full with scrape and the offset named in its notice. One failing URL does not fail the others.',
    'Returns: a summary line, then one block per URL in the order given.',
  ].join('\n'),
  inputSchema: z.object({
    urls: z.array(urlField).min(1).max(20).describe('1 to 20 absolute http(s) URLs'),
    format: formatField,
    only_main_content: mainContentField,
    css_selector: cssSelectorField,
    bypass_cache: bypassCacheField,
    max_chars: maxCharsField(40_000, 'all pages together (each page gets an equal share)'),
  }),
  annotations: { title: 'Scrape several web pages', readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: true },
  async run(args, cfg, ctx) {
    const format = args.format as ScrapeFormat;
    const fit = format === 'markdown' && args.only_main_content;
    const unique = [...new Set(args.urls)];
    const checked = unique.map((input) => {
      try {
        return { input, url: requirePublicUrl(input).href };
      } catch (e) {
        return { input, error: e instanceof ToolError ? e.message : String(e) };
      }
    });
    const allowed = [...new Set(checked.flatMap((c) => (c.url ? [c.url] : [])))];
    const results = new Map<string, CrawlResult>();
    let batchError: string | undefined;
    if (allowed.length) {
      const client = clientFor(cfg, ctx);
      const config = crawlerConfig({
        fit,
        cssSelector: args.css_selector,
        bypassCache: args.bypass_cache,
        pageTimeoutMs: Math.min(45_000, client.remainingMs() - 5_000),
      });
      try {
        const res = await client.crawl(allowed, config, `batch of ${allowed.length} URLs`);
        allowed.forEach((u, i) => {
          const r = pickResult(res.results ?? [], u, allowed.length === 1 ? 0 : i);
          if (r) results.set(u, r);
        });
      } catch (e) {
        // "every URL failed" is a per-URL answer, not a failure of the tool
        if (e instanceof OriginHttpError && e.status === 500 && e.correlationId) batchError = `${e.message}. ${e.hint ?? ''}`.trim();
        else throw e;
      }
    }
    const share = Math.max(500, Math.floor(args.max_chars / Math.max(1, unique.length)));
    let okCount = 0;
    const blocks = checked.map((c, i) => {
      const head = `## [${i + 1}] ${c.input}`;
      if (!c.url) return `${head}\nerror: ${c.error}`;
      if (batchError) return `${head}\nerror: ${batchError}`;
      const r = results.get(c.url);
      if (!r) return `${head}\nerror: Crawl4AI returned no result for this URL`;
      if (!r.success) {
        const e = failedResultError(r, c.url);
        return `${head}\nerror: ${e.message}\nhint: ${e.hint}`;
      }
      const redirect = privateRedirectReason(r);
      if (redirect) return `${head}\nerror: refused: ${redirect}\nhint: ${PRIVATE_REDIRECT_HINT}`;
      okCount++;
      const doc = documentOf(r, format, fit);
      const t = titleOf(r);
      const info = `ok${t ? ` · ${t}` : ''}${r.status_code ? ` · HTTP ${r.status_code}` : ''} · ${doc.length} characters`;
      if (doc.length <= share) return `${head}\n${info}\n\n${doc}`;
      const p = pageText(doc, 0, share);
      return `${head}\n${info} (cut to ${p.end}; read the rest with scrape url="${c.url}" offset=${p.end})\n\n${p.chunk}`;
    });
    const failed = checked.length - okCount;
    const summary = `Scraped ${okCount} of ${checked.length} URL${checked.length === 1 ? '' : 's'}${failed ? ` (${failed} failed)` : ''}.`;
    const result: CallToolResult = { content: [text(summary), ...blocks.map((b) => text(clip(b, share + 600)))] };
    if (okCount === 0) result.isError = true;
    return result;
  },
});

import { z } from 'zod';
import { clientFor, normalizeUrl, ok, privateRedirectReason, requirePublicFinalUrl, requirePublicUrl, text } from '../context.js';
import { crawlerConfig, type CrawlLink, type CrawlResponse } from '../crawl4ai.js';
import { ToolError } from '../errors.js';
import { clip } from '../paging.js';
import { checkPublicUrl } from '../ssrf.js';
import { failedResultError, pickResult, titleOf } from './render.js';
import { bypassCacheField, urlField } from './scrape.js';
import { defineTool } from './types.js';

function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** `<loc>` entries of a sitemap, whether Crawl4AI hands back the XML as is or HTML-escaped. */
export function sitemapLocs(body: string): string[] {
  const out: string[] = [];
  const src = /&lt;loc&gt;/i.test(body) ? decodeXml(body) : body;
  for (const m of src.matchAll(/<loc>\s*([^<\s]+)\s*<\/loc>/gi)) out.push(decodeXml(m[1]!));
  return out;
}

interface Entry {
  url: string;
  text: string;
}

function collect(links: CrawlLink[] | null | undefined, into: Map<string, Entry>): void {
  for (const l of links ?? []) {
    if (!l?.href) continue;
    let u: string;
    try {
      const x = new URL(l.href);
      if (x.protocol !== 'http:' && x.protocol !== 'https:') continue;
      u = normalizeUrl(x.href);
    } catch {
      continue;
    }
    if (!into.has(u)) into.set(u, { url: u, text: (l.text ?? '').replace(/\s+/g, ' ').trim() });
  }
}

export const mapTool = defineTool({
  name: 'map',
  title: 'List the links of a page or site',
  description: [
    "List the URLs a page links to, split into internal (same site) and external, optionally merged with the site's sitemap.xml. Fast and cheap: it reads one page, it does not crawl.",
    '',
    'Best for: discovering which pages a site has before deciding what to read; finding the URL of a specific section (use search to filter).',
    'Not for: the content of pages (use scrape or batch_scrape), following links several levels deep (use crawl_site).',
    'Common mistakes: expecting every page of a large site: only links on the given page (plus sitemap.xml when include_sitemap=true) are listed; use search to narrow long lists instead of raising limit.',
    'Returns: counts, then "- URL — link text" lines per group.',
  ].join('\n'),
  inputSchema: z.object({
    url: urlField,
    include_sitemap: z.boolean().default(false).describe('Also read <site>/sitemap.xml and list its URLs (default false)'),
    include_external: z.boolean().default(true).describe('Also list links to other sites (default true)'),
    search: z.string().max(200).optional().describe('Only URLs or link texts containing this text (case-insensitive), e.g. "pricing"'),
    limit: z.number().int().min(1).max(1000).default(200).describe('Maximum URLs listed per group (default 200)'),
    bypass_cache: bypassCacheField,
  }),
  annotations: { title: 'List the links of a page or site', readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: true },
  async run(args, cfg, ctx) {
    const seed = requirePublicUrl(args.url);
    const url = seed.href;
    const client = clientFor(cfg, ctx);
    const config = crawlerConfig({ bypassCache: args.bypass_cache, pageTimeoutMs: Math.min(45_000, client.remainingMs() - 5_000) });
    const sitemapUrl = new URL('/sitemap.xml', seed).href;
    const [pageRes, sitemapRes] = await Promise.all([
      client.crawl([url], config, `map of ${url}`),
      args.include_sitemap
        ? client.crawl([sitemapUrl], config, `read of ${sitemapUrl}`).catch((e: unknown) => e as Error)
        : Promise.resolve(undefined),
    ]);
    const r = pickResult(pageRes.results ?? [], url, 0);
    if (!r) throw new ToolError(`Crawl4AI returned no result for ${url}`, 'retry once');
    if (!r.success) throw failedResultError(r, url);
    requirePublicFinalUrl(r, url);

    const internal = new Map<string, Entry>();
    const external = new Map<string, Entry>();
    collect(r.links?.internal, internal);
    if (args.include_external) collect(r.links?.external, external);

    let sitemapNote = '';
    const fromSitemap = new Map<string, Entry>();
    if (args.include_sitemap) {
      if (sitemapRes instanceof Error) sitemapNote = `sitemap.xml: not read (${sitemapRes.message})`;
      else {
        const sr = pickResult((sitemapRes as CrawlResponse | undefined)?.results ?? [], sitemapUrl, 0);
        const redirect = sr?.success ? privateRedirectReason(sr) : undefined;
        if (!sr || !sr.success) sitemapNote = `sitemap.xml: not available${sr?.status_code ? ` (HTTP ${sr.status_code})` : ''}`;
        else if (redirect) sitemapNote = `sitemap.xml: refused, ${redirect}`;
        else {
          const body = `${sr.html ?? ''}\n${sr.cleaned_html ?? ''}\n${typeof sr.markdown === 'string' ? sr.markdown : (sr.markdown?.raw_markdown ?? '')}`;
          for (const loc of sitemapLocs(body)) {
            const c = checkPublicUrl(loc);
            if (!c.ok) continue;
            const n = normalizeUrl(loc);
            if (!fromSitemap.has(n)) fromSitemap.set(n, { url: n, text: '' });
          }
          sitemapNote = `sitemap.xml: ${fromSitemap.size} URLs`;
        }
      }
    }

    const needle = args.search?.toLowerCase();
    const filter = (m: Map<string, Entry>) =>
      [...m.values()].filter((e) => !needle || e.url.toLowerCase().includes(needle) || e.text.toLowerCase().includes(needle));
    const groups: Array<[string, Entry[]]> = [['Internal links', filter(internal)]];
    if (args.include_sitemap) groups.push(['From sitemap.xml (not linked from the page)', filter(fromSitemap).filter((e) => !internal.has(e.url))]);
    if (args.include_external) groups.push(['External links', filter(external)]);

    const title = titleOf(r);
    const lines = [`Links on ${url}${title ? ` (${title})` : ''}${needle ? `, filtered by "${args.search}"` : ''}:`];
    lines.push(groups.map(([name, list]) => `${name}: ${list.length}`).join(' · ') + (sitemapNote ? ` · ${sitemapNote}` : ''));
    for (const [name, list] of groups) {
      lines.push('', `${name} (${list.length}${list.length > args.limit ? `, first ${args.limit} shown; narrow with search` : ''}):`);
      for (const e of list.slice(0, args.limit)) lines.push(e.text ? `- ${e.url} — ${e.text.slice(0, 120)}` : `- ${e.url}`);
    }
    return ok(text(clip(lines.join('\n'), cfg.maxChars, '\n…[cut at the size limit: lower limit or narrow with search]')));
  },
});

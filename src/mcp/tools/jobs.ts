import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { clientFor, ok, privateRedirectReason, requirePublicUrl, text } from '../context.js';
import { crawlerConfig, markdownOf, type CrawlResponse } from '../crawl4ai.js';
import { ToolError } from '../errors.js';
import { pageText, pagingNotice } from '../paging.js';
import { isRobotsBlocked, titleOf } from './render.js';
import { bypassCacheField, cssSelectorField, mainContentField, maxCharsField, offsetField, urlField } from './scrape.js';
import { defineTool } from './types.js';

export const TASK_ID_RE = /^(crawl|llm)_[A-Za-z0-9_-]{1,64}$/;

export const startCrawlJobTool = defineTool({
  name: 'start_crawl_job',
  title: 'Start a background crawl job',
  description: [
    'Start crawling up to 100 URLs as a background job on your Crawl4AI server and return its task_id at once; fetch the results later with get_job_status.',
    '',
    'Best for: many URLs, slow sites, anything that may take longer than one tool call (~55 s), e.g. the URLs found by map or left over by crawl_site.',
    'Not for: one or a few fast pages (use scrape or batch_scrape: they answer directly).',
    'Common mistakes: calling get_job_status immediately in a tight loop (wait ~10 s between checks); forgetting the task_id; jobs and their results expire after 1 hour.',
    'Returns: the task_id and what to call next.',
  ].join('\n'),
  inputSchema: z.object({
    urls: z.array(urlField).min(1).max(100).describe('1 to 100 absolute http(s) URLs'),
    only_main_content: mainContentField,
    css_selector: cssSelectorField,
    bypass_cache: bypassCacheField,
    respect_robots: z.boolean().default(false).describe("Skip URLs the site's robots.txt disallows (default false: you chose these URLs)"),
  }),
  annotations: { title: 'Start a background crawl job', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(args, cfg, ctx) {
    const urls = [...new Set(args.urls.map((u) => requirePublicUrl(u).href))];
    const client = clientFor(cfg, ctx);
    const config = crawlerConfig({ fit: args.only_main_content, cssSelector: args.css_selector, bypassCache: args.bypass_cache, checkRobotsTxt: args.respect_robots });
    const job = await client.startCrawlJob(urls, config);
    if (!job?.task_id) throw new ToolError('Crawl4AI accepted the job but returned no task_id', 'retry once');
    return ok(
      text(
        `Started crawl job ${job.task_id} for ${urls.length} URL${urls.length === 1 ? '' : 's'}. Call get_job_status with task_id="${job.task_id}" in about ${Math.min(60, 5 + urls.length * 2)} s; results are kept for 1 hour.`,
      ),
    );
  },
});

/** The job's results as markdown; `refusedAll` when every page was withheld (private redirect). */
function renderCrawlResult(result: unknown, preferFit = true): { body: string; refusedAll: boolean } {
  const r = result as Partial<CrawlResponse> | null;
  const list = Array.isArray(r?.results) ? r.results : [];
  if (!list.length) return { body: JSON.stringify(result ?? null, null, 2), refusedAll: false };
  const refusal = (x: (typeof list)[number]) => (x?.success ? privateRedirectReason(x) : undefined);
  const okCount = list.filter((x) => x?.success && !refusal(x)).length;
  const parts = [`${okCount} of ${list.length} URL${list.length === 1 ? '' : 's'} crawled successfully.`];
  for (const x of list) {
    if (!x?.success) {
      parts.push(`\n## ${x?.url ?? '?'}\nerror: ${isRobotsBlocked(x) ? 'disallowed by robots.txt' : (x?.error_message ?? 'failed')}${x?.status_code ? ` (HTTP ${x.status_code})` : ''}`);
      continue;
    }
    const redirect = refusal(x);
    if (redirect) {
      parts.push(`\n## ${x.url}\nerror: refused: ${redirect}`);
      continue;
    }
    const t = titleOf(x);
    parts.push(`\n## ${x.url}${t ? ` — ${t}` : ''}\n\n${markdownOf(x, preferFit)}`);
  }
  return { body: parts.join('\n'), refusedAll: list.every((x) => refusal(x)) };
}

export const getJobStatusTool = defineTool({
  name: 'get_job_status',
  title: 'Check a background job',
  description: [
    'Check a job started by start_crawl_job (task ids "crawl_…") or by LLM extraction (task ids "llm_…"): still processing, failed, or completed with its results as markdown.',
    '',
    'Best for: collecting the results of a background job.',
    'Not for: starting work (use start_crawl_job), direct scraping (use scrape).',
    'Common mistakes: polling faster than every ~10 s; dropping the offset from a truncation notice: big results come in chunks of max_chars, call again with the same task_id and the offset named.',
    'Returns: the status, and when completed the results (paged).',
  ].join('\n'),
  inputSchema: z.object({
    task_id: z.string().regex(TASK_ID_RE).describe('The task id returned by start_crawl_job (or extract), e.g. "crawl_1a2b3c4d"'),
    max_chars: maxCharsField(40_000, 'results returned'),
    offset: offsetField,
  }),
  annotations: { title: 'Check a background job', readOnlyHint: true, openWorldHint: false, destructiveHint: false, idempotentHint: true },
  async run(args, cfg, ctx): Promise<CallToolResult> {
    const client = clientFor(cfg, ctx);
    const st = await client.jobStatus(args.task_id);
    if (st.status === 'failed') {
      throw new ToolError(`job ${args.task_id} failed: ${st.error ?? 'unknown error'}`, 'check the URLs (scrape one of them to see the error), then start a new job');
    }
    if (st.status !== 'completed') {
      return ok(text(`Job ${args.task_id} is ${st.status}${st.created_at ? ` (created ${st.created_at})` : ''}. Check again in ~10 s.`));
    }
    const rendered = args.task_id.startsWith('llm_') ? { body: JSON.stringify(st.result ?? null, null, 2), refusedAll: false } : renderCrawlResult(st.result);
    const body = rendered.body;
    const page = pageText(body, args.offset, args.max_chars);
    if (args.offset > 0 && page.start >= page.total) {
      return ok(text(`Job ${args.task_id} is completed; offset ${args.offset} is past the end (${page.total} characters).`));
    }
    const notice = pagingNotice(page, `get_job_status with task_id="${args.task_id}"`);
    const result = ok(text(`Job ${args.task_id} is completed.`), text(page.chunk), ...(notice ? [text(notice)] : []));
    if (rendered.refusedAll) result.isError = true;
    return result;
  },
});

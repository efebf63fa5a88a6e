import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { sleep } from '../../ground/wait.js';
import { clientFor, ok, requirePublicFinalUrl, requirePublicUrl, text } from '../context.js';
import { crawlerConfig } from '../crawl4ai.js';
import { ToolError } from '../errors.js';
import { pageText, pagingNotice } from '../paging.js';
import { failedResultError, pickResult } from './render.js';
import { bypassCacheField, maxCharsField, offsetField, urlField, waitForField, waitForParam } from './scrape.js';
import { defineTool } from './types.js';

/**
 * The extraction schema, strictly: Crawl4AI deserialises typed objects (`{"type": "SomeClass",
 * "params": {...}}`) anywhere inside the config it is sent, so only the documented
 * JsonCssExtractionStrategy shape gets through: known keys, scalar values, bounded depth and size.
 * Nesting is spelled out level by level (no recursive $ref in the JSON Schema clients see).
 */
export const EXTRACT_MAX_DEPTH = 4;
export const EXTRACT_MAX_FIELDS_PER_LEVEL = 50;
export const EXTRACT_MAX_FIELDS_TOTAL = 200;

const FIELD_TYPES = ['text', 'attribute', 'html', 'regex', 'nested', 'list', 'nested_list'] as const;
const CONTAINER_TYPES = new Set(['nested', 'list', 'nested_list']);

interface FieldShape {
  name: string;
  selector?: string | undefined;
  type: (typeof FIELD_TYPES)[number];
  attribute?: string | undefined;
  pattern?: string | undefined;
  default?: string | number | boolean | null | undefined;
  fields?: FieldShape[] | undefined;
}

const fieldProps = {
  name: z.string().min(1).max(100),
  selector: z.string().min(1).max(500).optional(),
  type: z.enum(FIELD_TYPES),
  attribute: z.string().min(1).max(100).optional(),
  pattern: z.string().min(1).max(500).optional(),
  default: z.union([z.string().max(500), z.number(), z.boolean(), z.null()]).optional(),
};
/** Level 1 carries the descriptions; deeper levels repeat the shape only (tools/list stays small). */
const describedFieldProps = {
  name: fieldProps.name.describe('Key of this field in each extracted item'),
  selector: fieldProps.selector.describe('CSS selector, relative to the item (baseSelector)'),
  type: fieldProps.type.describe('text (inner text), attribute (needs "attribute"), html, regex (needs "pattern"), nested/list/nested_list (need "fields"; list alone gives texts)'),
  attribute: fieldProps.attribute.describe('Attribute to read when type is "attribute", e.g. "href"'),
  pattern: fieldProps.pattern.describe('Regular expression when type is "regex"'),
  default: fieldProps.default.describe('Value when the selector matches nothing'),
};

/** A field at `level` (1 = directly under the schema); the deepest level has no `fields`. */
function fieldAt(level: number): z.ZodType<FieldShape> {
  const props = level === 1 ? describedFieldProps : fieldProps;
  if (level >= EXTRACT_MAX_DEPTH) return z.strictObject(props) as z.ZodType<FieldShape>;
  const sub = z.array(fieldAt(level + 1)).min(1).max(EXTRACT_MAX_FIELDS_PER_LEVEL).optional();
  return z.strictObject({
    ...props,
    fields: level === 1 ? sub.describe(`Sub-fields for nested, list and nested_list types (same shape; at most ${EXTRACT_MAX_DEPTH} levels in all)`) : sub,
  }) as z.ZodType<FieldShape>;
}

const topLevelField = fieldAt(1);

/** What the shape alone cannot say: which keys each type needs, and the total size. */
function checkFields(fields: FieldShape[] | undefined, path: (string | number)[], ctx: z.core.$RefinementCtx, count: { n: number }): void {
  fields?.forEach((f, i) => {
    const at = [...path, i];
    count.n++;
    if (f.type === 'attribute' && !f.attribute) ctx.addIssue({ code: 'custom', path: [...at, 'attribute'], message: 'type "attribute" needs "attribute" (e.g. "href")' });
    if (f.type === 'regex' && !f.pattern) ctx.addIssue({ code: 'custom', path: [...at, 'pattern'], message: 'type "regex" needs "pattern"' });
    if (f.type !== 'list' && CONTAINER_TYPES.has(f.type) && !f.fields) ctx.addIssue({ code: 'custom', path: [...at, 'fields'], message: `type "${f.type}" needs "fields"` });
    if (f.fields && !CONTAINER_TYPES.has(f.type)) ctx.addIssue({ code: 'custom', path: [...at, 'fields'], message: `"fields" is only for nested, list and nested_list, not "${f.type}"` });
    checkFields(f.fields, [...at, 'fields'], ctx, count);
  });
}

export const cssSchemaField = z
  .strictObject({
    name: z.string().min(1).max(100).optional().describe('A name for the schema, e.g. "Products"'),
    baseSelector: z.string().min(1).max(500).describe('CSS selector matching each item, e.g. ".product"'),
    baseFields: z.array(topLevelField).min(1).max(EXTRACT_MAX_FIELDS_PER_LEVEL).optional().describe('Fields read from the matched element itself (usually type "attribute" without selector)'),
    fields: z.array(topLevelField).min(1).max(EXTRACT_MAX_FIELDS_PER_LEVEL),
  })
  .superRefine((schema, ctx) => {
    const count = { n: 0 };
    checkFields(schema.baseFields, ['baseFields'], ctx, count);
    checkFields(schema.fields, ['fields'], ctx, count);
    if (count.n > EXTRACT_MAX_FIELDS_TOTAL) ctx.addIssue({ code: 'custom', path: ['fields'], message: `the schema has ${count.n} fields; at most ${EXTRACT_MAX_FIELDS_TOTAL} in all` });
  })
  .describe(
    `Crawl4AI JsonCssExtractionStrategy schema: one item per element matching baseSelector, with the listed fields. Only these keys are accepted; nesting up to ${EXTRACT_MAX_DEPTH} levels`,
  );

const DESCRIPTION_HEAD_LLM =
  'Pull structured data (a JSON list of items) out of one web page with CSS selectors: give a schema with baseSelector (one item per match) and fields (CSS selectors inside each item). Or give prompt (and optionally output_schema) to have an LLM extract it: slower and costs tokens on your LLM key.';
const DESCRIPTION_HEAD_CSS =
  'Pull structured data (a JSON list of items) out of one web page with CSS selectors: give a schema with baseSelector (one item per match) and fields (CSS selectors inside each item).';

const extractInput = z.object({
  url: urlField,
  schema: cssSchemaField.optional(),
  prompt: z.string().min(1).max(4000).optional().describe('What to extract, in words (LLM extraction). Use schema instead when you can'),
  output_schema: z.record(z.string(), z.unknown()).optional().describe('Optional JSON Schema of the result for LLM extraction (with prompt)'),
  wait_for: waitForField,
  bypass_cache: bypassCacheField,
  max_chars: maxCharsField(40_000, 'JSON returned'),
  offset: offsetField,
});

const EXTRACT_BODY = [
  'Best for: repeated elements with a known structure (product cards, search results, tables of links, job listings), exact fields without LLM cost.',
  'Not for: reading prose (use scrape), pages whose structure you do not know yet (scrape with format=html first, or map), many pages (call it per page).',
  'Common mistakes: selectors in fields must be relative to baseSelector; use type "attribute" with attribute "href" for link targets (text gives the link text); an empty list usually means baseSelector matched nothing: check it against format=html from scrape.',
  'Example schema: {"baseSelector": ".product", "fields": [{"name": "name", "selector": "h2", "type": "text"}, {"name": "url", "selector": "a", "type": "attribute", "attribute": "href"}]}',
  'Returns: the number of items and the JSON.',
].join('\n');

export const extractTool = defineTool({
  name: 'extract',
  title: 'Extract structured data from a page',
  configure: (cfg) =>
    cfg.llmEnabled
      ? {}
      : {
          // loose: a stray `prompt` still reaches run() and gets the "not enabled" answer
          inputSchema: extractInput.omit({ prompt: true, output_schema: true }).loose(),
          description: `${DESCRIPTION_HEAD_CSS}\n\n${EXTRACT_BODY}`,
        },
  description: `${DESCRIPTION_HEAD_LLM}\n\n${EXTRACT_BODY}`,
  inputSchema: extractInput,
  annotations: { title: 'Extract structured data from a page', readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: true },
  async run(args, cfg, ctx): Promise<CallToolResult> {
    const url = requirePublicUrl(args.url).href;
    if (args.schema && args.prompt) throw new ToolError('give either schema (CSS) or prompt (LLM), not both', 'use schema when the page structure is known');
    if (!args.schema && !args.prompt) {
      throw new ToolError('extract needs a schema (CSS selectors)' + (cfg.llmEnabled ? ' or a prompt' : ''), 'pass schema={"baseSelector": "...", "fields": [...]}');
    }
    const client = clientFor(cfg, ctx);

    if (args.prompt) {
      if (!cfg.llmEnabled) {
        throw new ToolError(
          'LLM extraction is not enabled on this deployment (no LLM key was configured)',
          'use a CSS schema instead (scrape with format=html shows the page structure), or ask the owner to redeploy with an LLM provider key',
        );
      }
      const job = await client.startLlmJob(url, args.prompt, args.output_schema ? JSON.stringify(args.output_schema) : undefined);
      while (client.remainingMs() > cfg.pollIntervalMs + 3_000) {
        await sleep(cfg.pollIntervalMs, ctx?.mcpReq.signal);
        const st = await client.jobStatus(job.task_id);
        if (st.status === 'completed') {
          const json = JSON.stringify(st.result ?? null, null, 2);
          const page = pageText(json, 0, args.max_chars);
          const notice = pagingNotice(page, `get_job_status with task_id="${job.task_id}"`);
          return ok(text(`LLM extraction of ${url}:`), text(page.chunk), ...(notice ? [text(notice)] : []));
        }
        if (st.status === 'failed') throw new ToolError(`LLM extraction of ${url} failed: ${st.error ?? 'unknown error'}`, 'check the LLM provider key and quota on the Crawl4AI server, or use a CSS schema');
      }
      return ok(text(`LLM extraction of ${url} is still running as job ${job.task_id}. Call get_job_status with task_id="${job.task_id}" in ~10 s for the result.`));
    }

    const config = crawlerConfig({
      cssSchema: args.schema as Record<string, unknown>,
      waitFor: waitForParam(args.wait_for),
      bypassCache: args.bypass_cache,
      pageTimeoutMs: Math.min(45_000, client.remainingMs() - 5_000),
    });
    const res = await client.crawl([url], config, `extraction from ${url}`);
    const r = pickResult(res.results ?? [], url, 0);
    if (!r) throw new ToolError(`Crawl4AI returned no result for ${url}`, 'retry once');
    if (!r.success) throw failedResultError(r, url);
    requirePublicFinalUrl(r, url);
    let items: unknown = [];
    if (r.extracted_content) {
      try {
        items = JSON.parse(r.extracted_content);
      } catch {
        throw new ToolError('Crawl4AI returned extracted content that is not JSON', 'retry once; if it persists, simplify the schema');
      }
    }
    const count = Array.isArray(items) ? items.length : 1;
    if (count === 0) {
      return ok(
        text(
          `No items: baseSelector "${args.schema!.baseSelector}" matched nothing on ${url}. Check the selector against the page's HTML (scrape with format=html), or add wait_for if the items render late.`,
        ),
      );
    }
    const json = JSON.stringify(items, null, 2);
    const page = pageText(json, args.offset, args.max_chars);
    const notice = pagingNotice(page, `extract with the same url and schema`);
    return ok(text(`Extracted ${count} item${count === 1 ? '' : 's'} from ${url}:`), text(page.chunk), ...(notice ? [text(notice)] : []));
  },
});

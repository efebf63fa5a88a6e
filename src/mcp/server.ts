/**
 * The MCP server: one McpServer instance per serving unit (an HTTP request in the Worker, a
 * connection on stdio), with every tool registered from the same definitions.
 */
import { McpServer, type CallToolResult } from '@modelcontextprotocol/server';
import type { ToolConfig } from './context.js';
import { errorResult, ToolError } from './errors.js';
import { crawlSiteTool } from './tools/crawl-site.js';
import { extractTool } from './tools/extract.js';
import { healthTool } from './tools/health.js';
import { getJobStatusTool, startCrawlJobTool } from './tools/jobs.js';
import { mapTool } from './tools/map.js';
import { pdfTool, screenshotTool } from './tools/media.js';
import { batchScrapeTool, scrapeTool } from './tools/scrape.js';
import type { ToolDef } from './tools/types.js';

export const SERVER_NAME = 'crawl4ai-mcp';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const TOOLS: ToolDef<any>[] = [
  scrapeTool,
  batchScrapeTool,
  mapTool,
  crawlSiteTool,
  extractTool,
  screenshotTool,
  pdfTool,
  startCrawlJobTool,
  getJobStatusTool,
  healthTool,
];

export const INSTRUCTIONS = [
  'Web crawling tools backed by the user\'s own Crawl4AI server (a headless browser).',
  'Start with scrape for one URL, map to discover URLs, crawl_site for a section of a site, extract for structured fields, start_crawl_job for long work.',
  'Long answers are cut at max_chars with a notice naming the offset to continue from. Errors come with a hint; health diagnoses connection and token problems.',
].join(' ');

// Per-config tool variants, built once: the Worker constructs a server per request, and building
// zod schemas each time would cost more than the rest of the registration.
const variants = new WeakMap<ToolConfig, Map<string, ReturnType<NonNullable<ToolDef['configure']>>>>();

function variantOf(def: ToolDef, cfg: ToolConfig): ReturnType<NonNullable<ToolDef['configure']>> {
  if (!def.configure) return {};
  let m = variants.get(cfg);
  if (!m) variants.set(cfg, (m = new Map()));
  let v = m.get(def.name);
  if (!v) m.set(def.name, (v = def.configure(cfg)));
  return v;
}

/**
 * Per serving unit hooks (the Worker's per-key scopes and usage; stdio passes none). Kept here as
 * plain callbacks so src/mcp stays free of any transport or storage.
 */
export interface ToolCallHooks {
  /**
   * A refusal message when this caller may not use `tool` (answered as an isError result). The
   * tool runs only after this settles: the Worker resolves it once the key's limits admitted the
   * call, and rejects it (the tool never runs) when they did not.
   */
  refuse?(tool: string): { message: string; hint: string } | undefined | Promise<{ message: string; hint: string } | undefined>;
  /** Called once per call with its outcome, refused calls included. */
  settled?(call: { tool: string; args: unknown; result: CallToolResult; ms: number }): void;
  /** The serving unit ended (its transport closed): calls that never reached a tool have ended too. */
  closed?(): void;
}

/** What one serving unit (a Worker request) may show and will run. */
export interface ServingScope {
  /**
   * The tools this caller's key may use (a key with a tool allowlist); the others are left out of
   * tools/list. The Worker gives it only to requests that call no tool: a call to a tool outside
   * the scope still reaches its handler, which refuses it naming the scope (`hooks.refuse`).
   */
  listed?: ReadonlySet<string>;
  /**
   * A request that only calls these (existing) tools: only they are registered. The server lives
   * for that one request, and registering all ten costs a measurable share of a short call.
   */
  calling?: ReadonlySet<string>;
}

export function createMcpServer(cfg: ToolConfig, hooks?: ToolCallHooks, scope: ServingScope = {}): McpServer {
  const { listed, calling } = scope;
  const server = new McpServer({ name: SERVER_NAME, version: cfg.version }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  for (const def of TOOLS) {
    if (def.enabled && !def.enabled(cfg)) continue;
    if (calling && !calling.has(def.name)) continue;
    const variant = variantOf(def, cfg);
    const registered = server.registerTool(
      def.name,
      {
        title: def.title,
        description: variant.description ?? def.description,
        inputSchema: variant.inputSchema ?? def.inputSchema,
        annotations: def.annotations,
      },
      async (args: unknown, ctx): Promise<CallToolResult> => {
        let refusal: { message: string; hint: string } | undefined;
        try {
          // may wait for the caller's admission
          refusal = await hooks?.refuse?.(def.name);
        } catch {
          // not admitted: the tool must not run, and the Worker answers the request with its refusal
          refusal = { message: 'this call was not admitted', hint: 'check the API key and its limits' };
        }
        const started = Date.now();
        let result: CallToolResult;
        if (refusal) result = errorResult(new ToolError(refusal.message, refusal.hint));
        else {
          try {
            result = await def.run(args, cfg, ctx);
          } catch (e) {
            result = errorResult(e);
          }
        }
        hooks?.settled?.({ tool: def.name, args, result, ms: Date.now() - started });
        return result;
      },
    );
    // a disabled tool is not listed (the server lives for one request, so nothing is notified)
    if (listed && !listed.has(def.name)) registered.disable();
  }
  if (hooks?.closed) {
    const closed = hooks.closed;
    const prev = server.server.onclose;
    server.server.onclose = () => {
      prev?.();
      closed();
    };
  }
  return server;
}

import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { clientFor, ok, text } from '../context.js';
import { OriginHttpError } from '../errors.js';
import { defineTool } from './types.js';

export const healthTool = defineTool({
  name: 'health',
  title: 'Check the crawler',
  description: [
    'Check that your Crawl4AI server is reachable from this MCP server, which version it runs, and that the token between them is accepted.',
    '',
    'Best for: diagnosing failing tool calls ("not connected", "token mismatch", timeouts) before retrying.',
    'Not for: checking whether a website is up (use scrape on it).',
    'Returns: one line per check.',
  ].join('\n'),
  inputSchema: z.object({}),
  annotations: { title: 'Check the crawler', readOnlyHint: true, openWorldHint: false, destructiveHint: false, idempotentHint: true },
  async run(_args, cfg, ctx): Promise<CallToolResult> {
    const client = clientFor(cfg, ctx, Math.min(cfg.callBudgetMs, 15_000));
    const t0 = Date.now();
    const h = await client.health();
    const ms = Date.now() - t0;
    const lines = [
      `MCP server: crawl4ai-mcp ${cfg.version}`,
      `Crawl4AI${cfg.origin.label ? ` at ${cfg.origin.label}` : ''}: ${h.status}${h.version ? `, version ${h.version}` : ''} (${ms} ms)`,
    ];
    if (h.version && !/^0\.9\./.test(h.version)) lines.push(`warning: this MCP server is built for Crawl4AI 0.9.x; ${h.version} may behave differently`);
    // An authenticated probe: an unknown job id answers 404 when the token is accepted, 401 when not.
    try {
      await client.jobStatus('crawl_00000000');
      lines.push('token: accepted');
    } catch (e) {
      if (e instanceof OriginHttpError && e.status === 404) lines.push('token: accepted');
      else if (e instanceof OriginHttpError && e.status === 401) {
        const r = ok(...lines.map(text), text(`token: REJECTED: ${e.message}\nhint: ${e.hint}`));
        r.isError = true;
        return r;
      } else lines.push(`token: could not be checked (${e instanceof Error ? e.message : String(e)})`);
    }
    lines.push(`LLM extraction: ${cfg.llmEnabled ? 'enabled' : 'not enabled'}`);
    return ok(text(lines.join('\n')));
  },
});

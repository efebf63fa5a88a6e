import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { clientFor, ok, text } from '../context.js';
import { ToolError } from '../errors.js';
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
    const h = await client.check();
    const ms = Date.now() - t0;
    if (!h.reachable) throw new ToolError(h.error ?? 'Crawl4AI is not reachable', h.hint);
    const lines = [
      `MCP server: crawl4ai-mcp ${cfg.version}`,
      `Crawl4AI${cfg.origin.label ? ` at ${cfg.origin.label}` : ''}: ok${h.version ? `, version ${h.version}` : ''} (${ms} ms)`,
    ];
    if (h.version && !/^0\.9\./.test(h.version)) lines.push(`warning: this MCP server is built for Crawl4AI 0.9.x; ${h.version} may behave differently`);
    if (h.token === 'rejected') {
      const r = ok(...lines.map(text), text(`token: REJECTED: ${h.error}\nhint: ${h.hint}`));
      r.isError = true;
      return r;
    }
    lines.push(h.token === 'accepted' ? 'token: accepted' : `token: could not be checked (${h.error})`);
    lines.push(`LLM extraction: ${cfg.llmEnabled ? 'enabled' : 'not enabled'}`);
    return ok(text(lines.join('\n')));
  },
});

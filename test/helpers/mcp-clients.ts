/**
 * The official MCP clients, both eras: v1 `@modelcontextprotocol/sdk` (2025 protocol) and v2
 * `@modelcontextprotocol/client` (2026-07-28, negotiating down when needed).
 */
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpTransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpTransportV2 } from '@modelcontextprotocol/client';

export interface ToolResultLike {
  content?: Array<{ type: string; text?: string; data?: string; mimeType?: string }>;
  isError?: boolean;
}

/** The minimal surface both client generations share. */
export interface McpTestClient {
  era: 'v1' | 'v2';
  listTools(): Promise<{ tools: Array<{ name: string; description?: string; inputSchema: Record<string, unknown>; annotations?: Record<string, unknown>; title?: string }> }>;
  callTool(name: string, args?: Record<string, unknown>): Promise<ToolResultLike>;
  close(): Promise<void>;
}

export async function connectV1(mcpUrl: string, apiKey: string | undefined): Promise<McpTestClient> {
  const client = new ClientV1({ name: 'crawl4ai-mcp-test-v1', version: '1.0.0' });
  const headers: Record<string, string> = apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` };
  await client.connect(new HttpTransportV1(new URL(mcpUrl), { requestInit: { headers } }));
  return {
    era: 'v1',
    listTools: () => client.listTools() as never,
    callTool: (name, args = {}) => client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 }) as Promise<ToolResultLike>,
    close: () => client.close(),
  };
}

export async function connectV2(mcpUrl: string, apiKey: string | undefined): Promise<McpTestClient> {
  const client = new ClientV2({ name: 'crawl4ai-mcp-test-v2', version: '2.0.0' });
  const headers: Record<string, string> = apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` };
  await client.connect(new HttpTransportV2(new URL(mcpUrl), { requestInit: { headers } }));
  return {
    era: 'v2',
    listTools: () => client.listTools() as never,
    callTool: (name, args = {}) => client.callTool({ name, arguments: args }, { timeout: 120_000 }) as Promise<ToolResultLike>,
    close: () => client.close(),
  };
}

/** All text blocks of a result, joined by newlines. */
export function textOf(r: ToolResultLike): string {
  return (r.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

/** The paging offset named in a truncation notice, or null. */
export function nextOffsetOf(r: ToolResultLike): number | null {
  const m = /offset=(\d+)/.exec(textOf(r).split('\n').filter((l) => l.startsWith('[Truncated')).join('\n'));
  return m ? Number(m[1]) : null;
}

export const TOOL_NAMES = [
  'scrape',
  'batch_scrape',
  'map',
  'crawl_site',
  'extract',
  'screenshot',
  'pdf',
  'start_crawl_job',
  'get_job_status',
  'health',
] as const;

/**
 * What the wake-on-request tests of every cloud share: waiting for a condition, the text of a
 * refused tool call, and one scrape through a real MCP client.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { errorResult } from '../../src/mcp/errors.js';

/** Polls `what` until it holds; throws after `ms`. */
export async function until(what: () => boolean, ms = 10_000, everyMs = 25): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The error text a tool would answer for a call that throws (and a failure when it does not). */
export async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (errorResult(e).content[0] as { text: string }).text;
  }
  throw new Error('expected the call to fail');
}

/** One `scrape` of the crawl4ai emulator's docs page through an MCP client (either SDK era). */
export async function scrapeWith(client: { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<{ isError?: unknown; content: unknown }> }): Promise<{ isError: boolean; text: string }> {
  const r = await client.callTool({ name: 'scrape', arguments: { url: 'https://docs.example.com/' } });
  return { isError: Boolean(r.isError), text: JSON.stringify(r.content) };
}

/**
 * A 2025-era MCP client (v1 SDK, Streamable HTTP) connected to a deployment the way a user would:
 * the URL and headers `crawl4ai-mcp connect --client cursor` prints.
 */
export async function connectedClient(cli: (args: string[]) => Promise<{ stdout: string }>, deployment: string, clientName: string): Promise<Client> {
  const connect = await cli(['connect', '--client', 'cursor']);
  const server = JSON.parse(connect.stdout).mcpServers[`crawl4ai-${deployment}`] as { url: string; headers: Record<string, string> };
  const client = new Client({ name: clientName, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
  return client;
}

/**
 * The least a Worker can do for one `scrape` (bench/keys-floor.mjs; not shipped, not a test): the
 * same `POST /crawl` to the same origin, its JSON parsed and the page's markdown answered, at
 * several levels of machinery, so the bench can show what each costs in this harness. Served
 * beside the real Worker in one workerd, under /floor (Miniflare route /floor/*):
 *
 *   POST /proxy      no MCP at all: the JSON-RPC request read by hand, the SSE answer written by hand
 *   POST /bare-sdk   the MCP SDK's `createMcpHandler` (legacy: 'stateless') with one `scrape` tool
 *                    taking a `url`, the body parsed first (as the Worker served until stop 28)
 *   POST /bare       the same server through the Worker's own serving (src/worker/mcp-serving.ts:
 *                    the SDK's transport, torn down a turn after the answer); no key, no usage
 *   POST /bare-do    /bare plus one call to a Durable Object that counts the call before the tool
 *                    runs (what an exact per-key limit needs at the least)
 *
 * Bundled by the bench with esbuild (the SDK and zod inlined, as wrangler does for the real Worker).
 */
import { DurableObject } from 'cloudflare:workers';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { mcpServing } from '../dist/worker/mcp-serving.js';

export class Counter extends DurableObject {
  calls = 0;
  admit() {
    this.calls++;
    return { ok: true, calls: this.calls };
  }
}

function crawlBody(url) {
  return JSON.stringify({
    urls: [url],
    browser_config: {},
    crawler_config: {
      type: 'CrawlerRunConfig',
      params: {
        cache_mode: 'enabled',
        markdown_generator: { type: 'DefaultMarkdownGenerator', params: { content_filter: { type: 'PruningContentFilter', params: { threshold: 0.48 } } } },
        page_timeout: 45000,
      },
    },
  });
}

async function scrape(env, url) {
  const res = await fetch(`${env.ORIGIN_URL}/crawl`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.CRAWL4AI_API_TOKEN}`, 'content-type': 'application/json', accept: 'application/json' },
    body: crawlBody(url),
  });
  const data = await res.json();
  const r = data.results[0];
  const md = typeof r.markdown === 'string' ? r.markdown : r.markdown.fit_markdown || r.markdown.raw_markdown;
  return `Source: ${url}\n\n${md}`;
}

function makeServer(env, counted) {
  const server = new McpServer({ name: 'floor', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.registerTool('scrape', { description: 'Scrape a web page', inputSchema: { url: z.string().min(1).max(4096) } }, async ({ url }) => {
    if (counted) await env.COUNTER.get(env.COUNTER.idFromName('keys')).admit();
    return { content: [{ type: 'text', text: await scrape(env, url) }] };
  });
  return server;
}

const servings = new Map();
function servingFor(env, kind) {
  let s = servings.get(kind);
  if (!s) {
    s = kind === 'sdk' ? createMcpHandler(() => makeServer(env, false), { legacy: 'stateless' }) : mcpServing(() => makeServer(env, kind === 'do'));
    servings.set(kind, s);
  }
  return s;
}

const AUTH = { token: 'floor', clientId: 'floor', scopes: [] };

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname.replace(/^\/floor/, '');
    if (request.method !== 'POST') return new Response('POST only', { status: 405 });
    const parsedBody = await request.json();
    if (path === '/proxy') {
      const text = await scrape(env, parsedBody.params.arguments.url);
      const frame = `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: parsedBody.id, result: { content: [{ type: 'text', text }] } })}\n\n`;
      return new Response(frame, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }
    if (path === '/bare-sdk') return servingFor(env, 'sdk').fetch(request, { authInfo: AUTH, parsedBody });
    if (path === '/bare') return servingFor(env, 'bare').fetch(request, { authInfo: AUTH, parsedBody }, ctx);
    if (path === '/bare-do') return servingFor(env, 'do').fetch(request, { authInfo: AUTH, parsedBody }, ctx);
    return new Response('not found', { status: 404 });
  },
};

/**
 * The least a Worker can do for one `scrape` (bench/keys-floor.mjs; not shipped, not a test): the
 * same `POST /crawl` to the same origin, its JSON parsed and the page's markdown answered, at
 * three levels of machinery, so the bench can show what each costs in this harness:
 *
 * Served beside the real Worker in one workerd, under /floor (Miniflare route /floor/*):
 *
 *   POST /proxy    no MCP at all: the JSON-RPC request read by hand, the SSE answer written by hand
 *   POST /bare     the MCP SDK's `createMcpHandler` (legacy: 'stateless', as the real Worker) with
 *                  one `scrape` tool taking a `url`; no key, no limits, no usage
 *   POST /bare-do  /bare plus one call to a Durable Object that counts the call before the tool
 *                  runs (what an exact per-key limit needs at the least)
 *
 * Bundled by the bench with esbuild (the SDK and zod inlined, as wrangler does for the real Worker).
 */
import { DurableObject } from 'cloudflare:workers';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

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

const handlers = new Map();
function handlerFor(env, counted) {
  let h = handlers.get(counted);
  if (!h) {
    h = createMcpHandler(
      () => {
        const server = new McpServer({ name: 'floor', version: '1.0.0' }, { capabilities: { tools: {} } });
        server.registerTool('scrape', { description: 'Scrape a web page', inputSchema: { url: z.string().min(1).max(4096) } }, async ({ url }) => {
          if (counted) await env.COUNTER.get(env.COUNTER.idFromName('keys')).admit();
          return { content: [{ type: 'text', text: await scrape(env, url) }] };
        });
        return server;
      },
      { legacy: 'stateless' },
    );
    handlers.set(counted, h);
  }
  return h;
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname.replace(/^\/floor/, '');
    if (path === '/proxy') {
      const msg = await request.json();
      const text = await scrape(env, msg.params.arguments.url);
      const frame = `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text }] } })}\n\n`;
      return new Response(frame, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }
    if (path === '/bare' || path === '/bare-do') return handlerFor(env, path === '/bare-do').fetch(request);
    if (path === '/bare-buf') {
      const r = await handlerFor(env, false).fetch(request);
      return new Response(await r.text(), { status: r.status, headers: r.headers });
    }
    return new Response('not found', { status: 404 });
  },
};

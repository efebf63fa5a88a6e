/**
 * `crawl4ai-mcp serve --stdio` as a real child process (the built CLI), driven by the official
 * StdioClientTransport of both SDK generations. stdout must carry only MCP frames; the token must
 * never show up in the process output.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { bundleWorker, ROOT } from './helpers/mcp-worker.ts';
import { textOf, TOOL_NAMES, type ToolResultLike } from './helpers/mcp-clients.ts';

const CLI = path.join(ROOT, 'bin', 'crawl4ai-mcp.js');
const TOKEN = 'stdio-test-token-5f0c9a1e7b2d';

let emu: Crawl4aiEmulator;
let home: string;

function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, 'xdg'),
    CRAWL4AI_MCP_HOME: path.join(home, 'config'),
    NO_COLOR: '1',
    CRAWL4AI_API_TOKEN: TOKEN,
    ...extra,
  };
}

beforeAll(async () => {
  await bundleWorker(); // makes sure dist/ is built
  emu = await startCrawl4aiEmulator({ token: TOKEN });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-serve-'));
});

afterAll(async () => {
  await emu?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

/** Collects what the server writes to stderr. */
function tapStderr(transport: { stderr: unknown }): { stderr: () => string } {
  let err = '';
  (transport.stderr as PassThrough | null)?.on('data', (d: Buffer) => (err += d.toString()));
  return { stderr: () => err };
}

describe('serve --stdio', () => {
  it('serves the v1 (2025) client: tools, a scrape, a blocked URL; logs on stderr without the token', async () => {
    const transport = new StdioV1({
      command: process.execPath,
      args: [CLI, 'serve', '--stdio', '--origin', emu.url],
      env: childEnv(),
      stderr: 'pipe',
    });
    const tap = tapStderr(transport);
    const client = new ClientV1({ name: 'stdio-v1', version: '1.0.0' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    const r = (await client.callTool({ name: 'scrape', arguments: { url: emu.fixtures.docs.root } })) as ToolResultLike;
    expect(r.isError).toBeFalsy();
    expect(r.content![1]!.text).toBe(emu.expectedMarkdown(emu.fixtures.docs.root).fit);
    expect(emu.requests.at(-1)!.auth).toBe(`Bearer ${TOKEN}`);
    const blocked = (await client.callTool({ name: 'scrape', arguments: { url: 'http://169.254.169.254/' } })) as ToolResultLike;
    expect(blocked.isError).toBe(true);
    await client.close();
    const err = tap.stderr();
    expect(err).toContain('MCP on stdio');
    expect(err).not.toContain(TOKEN);
  });

  it('serves the v2 client and never prints the token, not even on a token error', async () => {
    const transport = new StdioV2({
      command: process.execPath,
      args: [CLI, 'serve', '--stdio', '--origin', emu.url],
      env: childEnv({ CRAWL4AI_API_TOKEN: 'wrong-token-8e1d2c3b4a59' }),
      stderr: 'pipe',
    });
    const tap = tapStderr(transport);
    const client = new ClientV2({ name: 'stdio-v2', version: '2.0.0' });
    await client.connect(transport);
    const h = (await client.callTool({ name: 'health', arguments: {} })) as ToolResultLike;
    expect(h.isError).toBe(true);
    expect(textOf(h)).toContain('token: REJECTED');
    expect(textOf(h)).not.toContain('wrong-token-8e1d2c3b4a59');
    await client.close();
    expect(tap.stderr()).not.toContain('wrong-token-8e1d2c3b4a59');
  });

  it('writes nothing but JSON-RPC lines to stdout (raw process check)', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [CLI, 'serve', '--stdio', '--origin', emu.url, '--verbose'], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const send = (m: unknown) => child.stdin.write(JSON.stringify(m) + '\n');
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'scrape', arguments: { url: 'https://docs.example.com/guide/' } } });
    for (let i = 0; i < 100 && !out.includes('"id":2'); i++) await new Promise((r) => setTimeout(r, 50));
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const lines = out.split('\n').filter((l) => l.trim());
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(JSON.parse(l).jsonrpc).toBe('2.0');
    expect(out + err).not.toContain(TOKEN);
  });

  it('refuses to start without --stdio or --origin, with a hint', async () => {
    const { spawnSync } = await import('node:child_process');
    const a = spawnSync(process.execPath, [CLI, 'serve', '--origin', emu.url], { env: childEnv(), encoding: 'utf8' });
    expect(a.status).toBe(2);
    expect(a.stderr).toContain('serve needs --stdio');
    const b = spawnSync(process.execPath, [CLI, 'serve', '--stdio'], { env: childEnv(), encoding: 'utf8' });
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/no Crawl4AI origin[\s\S]*CRAWL4AI_MCP_ORIGIN/);
    const c = spawnSync(process.execPath, [CLI, 'serve', '--stdio'], { env: childEnv({ CRAWL4AI_MCP_ORIGIN: emu.url }), encoding: 'utf8', input: '' });
    expect(c.status).toBe(0);
    expect(c.stdout).toBe('');
  });
});

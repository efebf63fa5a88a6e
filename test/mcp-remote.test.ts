/**
 * A third-party client through a real process: mcp-remote 0.15.1 (the stdio↔HTTP bridge Claude
 * Desktop users run) in front of the Worker in workerd, driven over stdio by the SDK's
 * StdioClientTransport. The API key reaches mcp-remote through the environment only: argv holds
 * the literal `${AUTH}`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startCrawl4aiEmulator, type Crawl4aiEmulator } from './emulators/crawl4ai/index.ts';
import { ROOT, startWorker, type RunningWorker } from './helpers/mcp-worker.ts';
import { textOf, TOOL_NAMES, type ToolResultLike } from './helpers/mcp-clients.ts';

const PROXY = path.join(ROOT, 'node_modules', 'mcp-remote', 'dist', 'proxy.js');

let emu: Crawl4aiEmulator;
let worker: RunningWorker;
let home: string;

beforeAll(async () => {
  emu = await startCrawl4aiEmulator({});
  worker = await startWorker({ originUrl: emu.url, token: emu.token });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-mcp-remote-'));
});

afterAll(async () => {
  await worker?.close();
  await emu?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

function bridge(auth: string): { transport: StdioClientTransport; stderr: () => string } {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [PROXY, worker.mcpUrl, '--transport', 'http-only', '--header', 'Authorization:${AUTH}'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, 'xdg'),
      XDG_DATA_HOME: path.join(home, 'xdg-data'),
      XDG_CACHE_HOME: path.join(home, 'xdg-cache'),
      MCP_REMOTE_CONFIG_DIR: path.join(home, 'mcp-auth'),
      AUTH: auth,
    },
    stderr: 'pipe',
  });
  let err = '';
  (transport.stderr as PassThrough | null)?.on('data', (d: Buffer) => (err += d.toString()));
  return { transport, stderr: () => err };
}

describe('mcp-remote 0.15.1 → Worker', () => {
  it('lists the tools and calls scrape through the bridge', async () => {
    const { transport, stderr } = bridge(`Bearer ${worker.apiKey}`);
    const client = new Client({ name: 'claude-desktop-like', version: '1.0.0' });
    try {
      await client.connect(transport);
      // the key is in the bridge's environment only; its argv carries the literal ${AUTH}
      const argv = fs.readFileSync(`/proc/${transport.pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toContain('Authorization:${AUTH}');
      expect(argv.join(' ')).not.toContain(worker.apiKey);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
      const r = (await client.callTool({ name: 'scrape', arguments: { url: emu.fixtures.docs.root } })) as ToolResultLike;
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(textOf(r)).toContain('Welcome to Example Docs');
      const blocked = (await client.callTool({ name: 'scrape', arguments: { url: 'http://metadata.google.internal/' } })) as ToolResultLike;
      expect(blocked.isError).toBe(true);
    } finally {
      await client.close();
    }
    expect(stderr()).not.toContain(worker.apiKey);
  });

  it('a wrong key fails the connection (401 from the Worker)', async () => {
    const { transport } = bridge(`Bearer c4m_${'Z'.repeat(43)}`);
    const client = new Client({ name: 'claude-desktop-like', version: '1.0.0' });
    await expect(
      Promise.race([client.connect(transport).then(() => client.listTools()), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 30_000))]),
    ).rejects.toThrow();
    await client.close().catch(() => undefined);
  });
});

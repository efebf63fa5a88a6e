import type { CommandModule } from '../program.js';
import { originOption, parseOrigin } from '../origin-option.js';
import { usageError } from '../../ground/errors.js';

interface ServeOptions {
  stdio?: boolean;
  origin?: string;
  llm?: boolean;
}

/**
 * `serve --stdio`: the Worker's MCP tools as a local stdio server, for Crawl4AI in local Docker.
 * stdout carries only MCP frames; every log line goes to stderr.
 */
export const serveCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('serve')
      .description('serve the MCP tools over stdio against a Crawl4AI server you run yourself (no cloud needed)')
      .option('--stdio', 'speak MCP on stdin/stdout (the transport MCP clients spawn)')
      .addOption(originOption())
      .option('--llm', 'offer LLM extraction (the Crawl4AI server must have an LLM key)')
      .addHelpText(
        'after',
        [
          '',
          'The Crawl4AI token is read from CRAWL4AI_API_TOKEN (never from a flag).',
          '',
          'Example (Claude Code):',
          '  claude mcp add crawl4ai --env CRAWL4AI_API_TOKEN=... -- npx crawl4ai-mcp serve --stdio --origin http://localhost:11235',
        ].join('\n'),
      )
      .action(async (opts: ServeOptions) => {
        const c = ctx();
        if (!opts.stdio) throw usageError('serve needs --stdio', 'run `crawl4ai-mcp serve --stdio --origin <url>`; for an HTTP endpoint use `crawl4ai-mcp dev`');
        const origin = parseOrigin(opts.origin);
        const token = c.env.CRAWL4AI_API_TOKEN;
        const { registerSecret } = await import('../../ground/redact.js');
        registerSecret(token);

        const [{ serveStdio }, { createMcpServer }, { defaultToolConfig }, { urlOrigin }, { VERSION }] = await Promise.all([
          import('@modelcontextprotocol/server/stdio'),
          import('../../mcp/server.js'),
          import('../../mcp/context.js'),
          import('../../mcp/origin.js'),
          import('../../ground/version.js'),
        ]);
        const cfg = defaultToolConfig(urlOrigin(origin.href, token), { version: VERSION, llmEnabled: Boolean(opts.llm) });

        const log = (line: string) => c.out.error(`crawl4ai-mcp serve: ${line}`);
        if (!token) log('warning: CRAWL4AI_API_TOKEN is not set; requests to Crawl4AI carry no token (Crawl4AI 0.9 answers 401 unless it runs without auth)');
        log(`MCP on stdio → Crawl4AI at ${origin.origin}`);

        // Informational check; never blocks serving.
        void fetch(new URL('health', origin.href.endsWith('/') ? origin.href : origin.href + '/'), { signal: AbortSignal.timeout(3_000) })
          .then(async (r) => {
            const h = (await r.json().catch(() => ({}))) as { version?: string };
            log(r.ok ? `Crawl4AI is up${h.version ? ` (version ${h.version})` : ''}` : `warning: Crawl4AI /health answered ${r.status}`);
          })
          .catch((e: unknown) => log(`warning: Crawl4AI is not reachable yet (${e instanceof Error ? e.message : String(e)})`));

        const closed = new Promise<string>((resolve) => {
          process.stdin.once('end', () => resolve('stdin closed'));
          process.stdin.once('close', () => resolve('stdin closed'));
        });
        const handle = serveStdio(() => createMcpServer(cfg), {
          onerror: (e) => {
            if (c.verbose) log(`error: ${e.message}`);
          },
        });
        const stop = new Promise<string>((resolve) => process.once('SIGTERM', () => resolve('SIGTERM')));
        const why = await Promise.race([closed, stop]);
        await handle.close().catch(() => undefined);
        log(`${why}; stopped`);
      });
  },
};

import type { CommandModule } from '../program.js';
import { withSession, envMs } from '../deploy-options.js';
import { credentialsOf } from '../stored-credentials.js';
import { usageError } from '../../ground/errors.js';

const MAX_LINES = 500;

export const logsCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('logs')
      .description("Crawl4AI's recent log lines (through the Worker), or with --boot the VM's boot log (the cloud's console output); no SSH")
      .option('--boot', "the VM's serial console: cloud-init, the bootstrap and each start of Crawl4AI")
      .option('-f, --follow', 'keep printing new lines until Ctrl-C')
      .option('--lines <n>', `how many of the latest lines to print first (1-${MAX_LINES})`, '100')
      .addHelpText(
        'after',
        '\nSecrets are masked in both. Examples:\n  crawl4ai-mcp logs --name work\n  crawl4ai-mcp logs --boot --lines 50\n  crawl4ai-mcp logs --boot --follow\n  crawl4ai-mcp logs --json',
      )
      .action(async (opts: { boot?: boolean; follow?: boolean; lines: string }) => {
        const c = ctx();
        const lines = Number(opts.lines);
        if (!/^\d+$/.test(opts.lines) || lines < 1 || lines > MAX_LINES) {
          throw usageError(`--lines must be a whole number from 1 to ${MAX_LINES} (got "${opts.lines}")`, 'e.g. --lines 200');
        }
        const [{ loadDeployment }, { bootLog, originLog }] = await Promise.all([import('../../conductor/session.js'), import('../../conductor/logs.js')]);
        const state = await loadDeployment(c.name, c.env);
        const follow = {
          lines,
          follow: Boolean(opts.follow),
          intervalMs: envMs(c.env, 'CRAWL4AI_MCP_LOGS_POLL_MS', 5000),
          // --json: one JSON object per line (NDJSON), so --follow output can be piped line by line
          emit: (ls: string[]) => {
            for (const l of ls) {
              if (c.json) c.out.record({ source: 'console', text: l });
              else c.out.line(l);
            }
          },
        };
        await withSession(c, async (session) => {
          if (opts.boot) {
            session.reporter.step(`reading the VM's console output from ${state.provider?.toUpperCase()}`);
            const r = await bootLog(state, await credentialsOf(state, session), session, follow);
            if (r.truncated) c.out.info(`(older console output was dropped by ${state.provider?.toUpperCase()}; this is the most recent part)`);
            return;
          }
          session.reporter.step("asking the Worker for Crawl4AI's recent log lines");
          const r = await originLog(state, session.secrets, {
            ...follow,
            ...(c.json ? { emitRaw: (ls) => ls.forEach((l) => c.out.record(l)) } : {}),
          });
          for (const [source, why] of Object.entries(r.unavailable ?? {})) c.out.warn(`Crawl4AI's ${source} log could not be read: ${why}`);
        });
      });
  },
};

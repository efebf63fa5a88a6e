import type { CommandModule } from '../program.js';
import { originOption, parseOrigin } from '../origin-option.js';
import { CliError, usageError } from '../../ground/errors.js';

interface DevOptions {
  origin?: string;
  port: string;
  llm?: boolean;
}

/**
 * `dev`: the real Worker in local workerd (`wrangler dev`) against a Crawl4AI origin. Secrets go to
 * wrangler through a 0600 `.dev.vars` file in a private temp dir (never argv); Ctrl-C stops the
 * whole wrangler/workerd process group and removes the temp dir.
 */
export const devCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('dev')
      .description('run the MCP Worker locally in workerd (wrangler dev) against a Crawl4AI server; prints its URL and an API key')
      .addOption(originOption())
      .option('--port <n>', 'local port for the Worker', '8787')
      .option('--llm', 'offer LLM extraction (the Crawl4AI server must have an LLM key)')
      .addHelpText(
        'after',
        [
          '',
          'The Crawl4AI token is read from CRAWL4AI_API_TOKEN; the API key is made fresh unless CRAWL4AI_MCP_DEV_KEY is set.',
          '',
          'Example:',
          '  CRAWL4AI_API_TOKEN=... crawl4ai-mcp dev --origin http://localhost:11235 --port 8787',
        ].join('\n'),
      )
      .action(async (opts: DevOptions) => {
        const c = ctx();
        const origin = parseOrigin(opts.origin);
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError(`--port must be a port number, got ${opts.port}`);

        await runDev(c, { origin: origin.href.replace(/\/+$/, ''), port, llm: Boolean(opts.llm) });
      });
  },
};

interface DevRun {
  origin: string;
  port: number;
  llm: boolean;
}

/** Rejects when something already listens on 127.0.0.1:port. */
async function assertPortFree(port: number): Promise<void> {
  const net = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', () => reject(usageError(`port ${port} is already in use`, 'pass another --port')));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}

/**
 * A free port for wrangler's inspector, below Linux's ephemeral range (32768-60999): a port from
 * listen(0) is also handed to outgoing connections, which can take it before wrangler binds.
 */
async function freePort(): Promise<number> {
  const net = await import('node:net');
  for (let i = 0; ; i++) {
    const p = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(p, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free || i > 50) return p;
  }
}

/** dotenv double-quoted value (wrangler's .dev.vars parser understands \n, \" and \\). */
function dotenvValue(v: string): string {
  return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

async function runDev(c: import('../context.js').CommandContext, o: DevRun): Promise<void> {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { wranglerBin } = await import('../../cloudflare/wrangler-bin.js');
  const { wranglerBaseEnv } = await import('../../cloudflare/wrangler.js');
  const { generateApiKey, hashApiKey, isWellFormedApiKey } = await import('../../ground/api-key.js');
  const { writeWranglerConfig, WORKER_MAIN_PATH } = await import('../../cloudflare/wrangler-config.js');
  const { redact, registerSecret } = await import('../../ground/redact.js');

  if (!fs.existsSync(WORKER_MAIN_PATH)) {
    throw new CliError(`the Worker is not built (${WORKER_MAIN_PATH} is missing)`, { hint: 'run `npm run build` in the crawl4ai-mcp checkout' });
  }
  const token = c.env.CRAWL4AI_API_TOKEN ?? '';
  registerSecret(token);
  const presetKey = c.env.CRAWL4AI_MCP_DEV_KEY;
  if (presetKey && !isWellFormedApiKey(presetKey)) {
    throw usageError('CRAWL4AI_MCP_DEV_KEY is not a crawl4ai-mcp API key', 'it must look like c4m_ followed by 43 base64url characters; unset it to get a fresh key');
  }
  const apiKey = presetKey || generateApiKey();
  registerSecret(apiKey);
  if (!token) c.out.warn('CRAWL4AI_API_TOKEN is not set: the Worker calls Crawl4AI without a token (0.9 answers 401 unless it runs without auth)');

  await assertPortFree(o.port);
  const inspectorPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crawl4ai-mcp-dev-'));
  fs.chmodSync(dir, 0o700);
  const cleanupDir = () => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });

  const prevSigint = process.listeners('SIGINT');
  const prevSigterm = process.listeners('SIGTERM');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let child: any;
  let pgid: number | undefined;
  try {
    const configPath = writeWranglerConfig(dir, { scriptName: 'crawl4ai-mcp-dev', mainPath: WORKER_MAIN_PATH, originUrl: o.origin, llmEnabled: o.llm });
    // ALLOWED_HOSTS: the Worker refuses any other Host (a DNS-rebound page on evil.example.com reaching 127.0.0.1)
    const vars = [
      `CRAWL4AI_API_TOKEN=${dotenvValue(token)}`,
      `BOOTSTRAP_KEY_SHA256=${await hashApiKey(apiKey)}`,
      `ALLOWED_HOSTS=${dotenvValue(`127.0.0.1:${o.port},localhost:${o.port}`)}`,
    ].join('\n') + '\n';
    fs.writeFileSync(path.join(dir, '.dev.vars'), vars, { mode: 0o600 });
    fs.mkdirSync(path.join(dir, 'xdg'), { mode: 0o700 });

    // An allowlist, not "everything minus a denylist": cloud keys and the secret-file passphrase
    // in the user's shell never reach wrangler or workerd (secrets go in .dev.vars).
    const env: Record<string, string> = wranglerBaseEnv(c.env);
    Object.assign(env, {
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_SEND_METRICS: 'false',
      XDG_CONFIG_HOME: path.join(dir, 'xdg'),
      NO_COLOR: '1',
    });
    const args = [
      wranglerBin(), 'dev',
      '--config', configPath,
      '--ip', '127.0.0.1',
      '--port', String(o.port),
      '--inspector-port', String(inspectorPort),
      '--persist-to', path.join(dir, 'state'),
      '--show-interactive-dev-session=false',
      '--log-level', c.verbose ? 'log' : 'warn',
    ];
    const { execa } = await import('execa');
    c.out.info(`starting the Worker in local workerd (wrangler dev) on 127.0.0.1:${o.port} → Crawl4AI at ${new URL(o.origin).origin} …`);
    child = execa(process.execPath, args, {
      cwd: dir,
      env,
      extendEnv: false,
      detached: true,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      reject: false,
      cleanup: true,
      buffer: false,
    });
    // execa 10 keeps the Node ChildProcess here (older majors returned it directly)
    const cp: import('node:child_process').ChildProcess = child.nodeChildProcess ?? child;
    pgid = cp.pid;
    const tail: string[] = [];
    // Whole lines only, so a secret split across two chunks is still masked by redact().
    const lineReader = () => {
      let pending = '';
      return (chunk: Buffer | string) => {
        const parts = (pending + String(chunk)).split('\n');
        pending = parts.pop() ?? '';
        for (const l of parts) {
          if (l.trim()) tail.push(l);
          if (c.verbose) process.stderr.write(redact(l) + '\n'); // wrangler's output may echo a secret
        }
        while (tail.length > 40) tail.shift();
      };
    };
    child.stdout?.on('data', lineReader());
    child.stderr?.on('data', lineReader());
    let exited = false;
    // the 'exit' event, not execa's promise: that one also waits for stdio pipes that workerd may hold
    const exitedPromise = new Promise<{ exitCode?: number; signal?: string }>((resolve) => {
      cp.once('exit', (code: number | null, signal: string | null) => {
        exited = true;
        resolve({ ...(code !== null ? { exitCode: code } : {}), ...(signal ? { signal } : {}) });
      });
    });
    child.catch?.(() => undefined);

    /** Stops wrangler and everything it started (its process group: wrangler's cli.js, workerd). */
    const killGroup = async () => {
      if (!pgid) return;
      const group = pgid;
      const signalGroup = (sig: NodeJS.Signals | 0): boolean => {
        try {
          process.kill(-group, sig);
          return true;
        } catch {
          return false; // ESRCH: the group is gone
        }
      };
      const waitGone = async (ms: number) => {
        const end = Date.now() + ms;
        while (signalGroup(0) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      };
      signalGroup('SIGTERM');
      await waitGone(1_500); // nothing to save: the state dir is deleted anyway
      signalGroup('SIGKILL');
      await waitGone(2_000);
    };

    // From here on, Ctrl-C / SIGTERM stop wrangler cleanly instead of exiting at once.
    let stopSignal: string | undefined;
    let wake: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (wake = resolve));
    const onSignal = (sig: string) => {
      stopSignal = sig;
      wake();
    };
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));

    // Wait for /health.
    const base = `http://127.0.0.1:${o.port}`;
    const deadline = Date.now() + 90_000;
    let ready = false;
    while (!ready && !exited && !stopSignal && Date.now() < deadline) {
      try {
        const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) });
        const body = (await r.json().catch(() => ({}))) as { name?: string };
        ready = r.ok && body.name === 'crawl4ai-mcp';
      } catch {
        /* not up yet */
      }
      if (!ready) await Promise.race([new Promise((r) => setTimeout(r, 200)), stopped]);
    }
    if (!ready && !stopSignal) {
      await killGroup();
      const last = tail.slice(-15).join('\n');
      throw new CliError(exited ? 'wrangler dev exited before the Worker came up' : 'the Worker did not answer /health within 90 s', {
        hint: last ? `wrangler said:\n${last}` : 'run again with --verbose to see wrangler output',
      });
    }

    if (ready) {
      const mcpUrl = `${base}/mcp`;
      if (c.json) {
        c.out.reveal(JSON.stringify({ url: base, mcpUrl, apiKey, health: `${base}/health`, origin: o.origin }) + '\n', [apiKey]);
      } else {
        c.out.line(c.out.ok(`MCP Worker running in local workerd`));
        c.out.line(`MCP URL:  ${mcpUrl}`);
        c.out.reveal(`API key:  ${apiKey}\n`, [apiKey]);
        c.out.line(`Health:   ${base}/health`);
        c.out.line('');
        c.out.line(c.out.style('dim', 'Connect, e.g. Claude Code:'));
        c.out.reveal(`  claude mcp add --transport http crawl4ai-dev ${mcpUrl} --header "Authorization: Bearer ${apiKey}"\n`, [apiKey]);
        c.out.line(c.out.style('dim', 'Press Ctrl-C to stop.'));
      }
      await Promise.race([stopped, exitedPromise]);
    }

    if (stopSignal) {
      c.out.info(`\nstopping (${stopSignal}) …`);
      await killGroup();
      c.out.info('stopped');
      return;
    }
    const r = await exitedPromise;
    throw new CliError(`wrangler dev stopped unexpectedly (exit code ${r.exitCode ?? r.signal ?? '?'})`, {
      hint: tail.slice(-15).join('\n') || 'run again with --verbose to see wrangler output',
    });
  } finally {
    if (pgid) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    cleanupDir();
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
    for (const l of prevSigint) process.on('SIGINT', l as (...a: unknown[]) => void);
    for (const l of prevSigterm) process.on('SIGTERM', l as (...a: unknown[]) => void);
  }
}

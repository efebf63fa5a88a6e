import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError, ExitCode, credentialsError } from '../ground/errors.js';
import { retry } from '../ground/wait.js';
import { wranglerBin } from './wrangler-bin.js';

/** The user's Cloudflare credentials; they reach wrangler only through its environment. */
export interface CloudflareAccount {
  accountId: string;
  apiToken: string;
}

export interface WranglerResult {
  stdout: string;
  stderr: string;
  /** the ndjson events wrangler wrote to WRANGLER_OUTPUT_FILE_PATH */
  events: Array<Record<string, unknown>>;
}

/**
 * Runs the bundled wrangler with execa. Secrets are passed only in the child's environment
 * (CLOUDFLARE_API_TOKEN) or on stdin (`secret bulk`), never in argv. wrangler keeps its own files
 * in a private temp dir (XDG_CONFIG_HOME) so a user's `wrangler login` is neither used nor touched.
 */
export interface WranglerRunOptions {
  account: CloudflareAccount;
  env: NodeJS.ProcessEnv;
  cwd: string;
  input?: string;
  timeoutMs?: number;
  /** total runs of the command when it fails transiently (429/5xx, timeout); default 4 */
  attempts?: number;
  /** backoff base between runs in ms; default 1000 (CRAWL4AI_MCP_POLL_MS shortens it in tests) */
  retryBaseMs?: number;
  /** "Cloudflare API busy, running wrangler delete again" */
  log?: (line: string) => void;
}

/**
 * Runs the bundled wrangler. wrangler retries only its uploads, so a 429 or 5xx from any other
 * call it makes (delete, secret bulk, the subdomain lookup) ends the command: the whole command is
 * run again, bounded, with full-jitter backoff. Every command we run is idempotent (deploy and
 * secret bulk are PUTs, a delete of a deleted Worker is "not found"), so a rerun is safe.
 */
export async function runWrangler(args: string[], opts: WranglerRunOptions): Promise<WranglerResult> {
  const pollMs = Number(opts.env.CRAWL4AI_MCP_POLL_MS);
  const baseMs = opts.retryBaseMs ?? (Number.isFinite(pollMs) && pollMs > 0 ? Math.min(pollMs, 1000) : 1000);
  return retry(() => runWranglerOnce(args, opts), {
    retryIf: (e) => e instanceof WranglerError && e.transient,
    attempts: opts.attempts ?? 4,
    baseMs,
    maxMs: baseMs * 8,
    onRetry: (e, attempt, delayMs) =>
      opts.log?.(`wrangler ${args[0] ?? ''}: ${(e as WranglerError).reason}; running it again in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1})`),
  });
}

/**
 * One wrangler run with execa. Secrets are passed only in the child's environment
 * (CLOUDFLARE_API_TOKEN) or on stdin (`secret bulk`), never in argv. wrangler keeps its own files
 * in a private temp dir (XDG_CONFIG_HOME) so a user's `wrangler login` is neither used nor touched.
 */
async function runWranglerOnce(args: string[], opts: WranglerRunOptions): Promise<WranglerResult> {
  const { execa } = await import('execa');
  const outFile = path.join(opts.cwd, `wrangler-output-${process.pid}-${Date.now()}.ndjson`);
  const childEnv: NodeJS.ProcessEnv = {
    PATH: opts.env.PATH,
    HOME: opts.env.HOME,
    XDG_CONFIG_HOME: path.join(opts.cwd, '.wrangler-home'),
    CLOUDFLARE_API_TOKEN: opts.account.apiToken,
    CLOUDFLARE_ACCOUNT_ID: opts.account.accountId,
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_OUTPUT_FILE_PATH: outFile,
    CI: 'true',
    NO_COLOR: '1',
    ...(opts.env.CLOUDFLARE_API_BASE_URL ? { CLOUDFLARE_API_BASE_URL: opts.env.CLOUDFLARE_API_BASE_URL } : {}),
    ...(opts.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: opts.env.NODE_EXTRA_CA_CERTS } : {}),
  };
  const r = await execa(process.execPath, [wranglerBin(), ...args], {
    cwd: opts.cwd,
    env: childEnv,
    extendEnv: false,
    input: opts.input ?? '',
    timeout: opts.timeoutMs ?? 180_000,
    reject: false,
  });
  const events = await readEvents(outFile);
  if (r.timedOut) {
    throw new WranglerError(`wrangler ${args[0] ?? ''} did not finish within ${Math.round((opts.timeoutMs ?? 180_000) / 1000)} s`, {
      transient: true,
      reason: 'timed out',
      hint: 'check your network and run the command again: it resumes where it stopped',
    });
  }
  if (r.exitCode !== 0) throw wranglerError(args[0] ?? 'wrangler', r.stdout, r.stderr, events);
  return { stdout: r.stdout, stderr: r.stderr, events };
}

/**
 * Cloudflare error codes that mean "try again later": 971 (rate limited) and 10013 (an unknown
 * error, what the API answers with its 5xx). wrangler prints them as `[code: N]`.
 */
const TRANSIENT_CODES = [971, 10013];
const TRANSIENT_TEXT = /rate limit|too many requests|internal server error|bad gateway|service unavailable|gateway time-?out|malformed response from the API|\bcode: (971|10013)\b/i;

/** A failed wrangler run; `transient` when running it again may succeed. */
export class WranglerError extends CliError {
  readonly transient: boolean;
  /** a few words for the retry log line */
  readonly reason: string;
  /** the Cloudflare API error code wrangler reported, if any */
  readonly code: number | undefined;
  constructor(message: string, o: { transient: boolean; reason: string; code?: number; hint?: string; exitCode?: number }) {
    super(message, { exitCode: o.exitCode ?? ExitCode.failed, ...(o.hint ? { hint: o.hint } : {}) });
    this.name = 'WranglerError';
    this.transient = o.transient;
    this.reason = o.reason;
    this.code = o.code;
  }
}

async function readEvents(file: string): Promise<Array<Record<string, unknown>>> {
  try {
    const text = await fs.readFile(file, 'utf8');
    await fs.rm(file, { force: true });
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

function wranglerError(command: string, stdout: string, stderr: string, events: Array<Record<string, unknown>>): CliError {
  const text = `${stderr}\n${stdout}`;
  const failed = events.find((e) => e.type === 'command-failed');
  const code = typeof failed?.code === 'number' ? failed.code : undefined;
  const line =
    text
      .split('\n')
      .map((l) => l.replace(/^[✘X▲\s[\]A-Z]*ERROR\]?\s*/, '').trim())
      .find((l) => /error|failed|denied|not found|code:/i.test(l)) ?? `wrangler ${command} failed`;
  if (/Authentication error|code: 10000|\b403\b|Invalid API Token|code: 9109/i.test(text)) {
    return credentialsError(
      `Cloudflare refused the API token during \`wrangler ${command}\`: ${line}`,
      'check CLOUDFLARE_API_TOKEN has the permissions in templates/policies/cloudflare-token.json and CLOUDFLARE_ACCOUNT_ID is right',
    );
  }
  const retryAfterMs = typeof failed?.retry_after_ms === 'number' ? failed.retry_after_ms : undefined;
  const transient = (code !== undefined && TRANSIENT_CODES.includes(code)) || TRANSIENT_TEXT.test(text);
  const detail = transient ? (text.split('\n').map((l) => l.trim()).find((l) => TRANSIENT_TEXT.test(l)) ?? line) : line;
  const after = retryAfterMs !== undefined ? ` (retry after ${Math.ceil(retryAfterMs / 1000)} s)` : '';
  return new WranglerError(`wrangler ${command} failed: ${transient && detail !== line ? `${line} ${detail}` : line}${after}`, {
    transient,
    ...(code !== undefined ? { code } : {}),
    reason: transient ? `Cloudflare answered "${detail.replace(/\s*\[code: \d+\]/, '')}"` : line,
    hint: transient
      ? 'a Cloudflare-side error that did not clear after several tries; run the command again later: it resumes where it stopped'
      : "run again with --verbose for wrangler's full output",
  });
}

/** A private working directory for one wrangler session; removed by the caller with `dispose`. */
export async function wranglerWorkdir(prefix = 'crawl4ai-mcp-wrangler-'): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o700);
  return { dir, dispose: () => fs.rm(dir, { recursive: true, force: true }) };
}

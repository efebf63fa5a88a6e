import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { capacityError, CliError, ExitCode, credentialsError } from '../ground/errors.js';
import { permissionForPath } from './api.js';
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
 * The variables of the user's environment a wrangler child may see: how to run programs and where
 * home and temp are, the locale, and the proxy settings (both spellings; wrangler's fetches honour
 * them, so deploys work behind a corporate proxy) and extra CA certificates (a TLS-inspecting
 * proxy). An allowlist: nothing else of the user's shell (cloud keys, the secret-file passphrase)
 * reaches wrangler or workerd.
 */
export const WRANGLER_PASSTHROUGH_ENV = [
  'PATH',
  'HOME',
  'TMPDIR',
  'TMP',
  'TEMP',
  'LANG',
  'LC_ALL',
  'TZ',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'CLOUDFLARE_API_BASE_URL',
  // Windows: where programs, the user profile and app data are
  'SystemRoot',
  'SYSTEMROOT',
  'ComSpec',
  'PATHEXT',
  'USERPROFILE',
  'APPDATA',
  'LOCALAPPDATA',
] as const;

export function wranglerBaseEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of WRANGLER_PASSTHROUGH_ENV) {
    const v = env[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
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
    ...wranglerBaseEnv(opts.env),
    XDG_CONFIG_HOME: path.join(opts.cwd, '.wrangler-home'),
    CLOUDFLARE_API_TOKEN: opts.account.apiToken,
    CLOUDFLARE_ACCOUNT_ID: opts.account.accountId,
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_OUTPUT_FILE_PATH: outFile,
    CI: 'true',
    NO_COLOR: '1',
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
  if (r.exitCode !== 0) throw wranglerError(args[0] ?? 'wrangler', r.stdout, r.stderr, events, opts.account.accountId);
  return { stdout: r.stdout, stderr: r.stderr, events };
}

/**
 * Cloudflare error codes that mean "try again later": 971 (rate limited) and 10002 (unexpected
 * internal server error); wrangler prints them as `[code: N]`. Other 5xx answers are known by
 * their text (the API's "unknown error", an edge's Bad Gateway page wrangler cannot parse), and
 * so is a connection dropped before the answer (fetch failed, ECONNRESET).
 */
const TRANSIENT_CODES = [971, 10002];
const TRANSIENT_TEXT = /rate limit|too many requests|internal server error|unknown error|bad gateway|service unavailable|gateway time-?out|malformed response from the API|fetch failed|ECONNRESET|socket hang up|other side closed|\bcode: (971|10002)\b/i;

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

function wranglerError(command: string, stdout: string, stderr: string, events: Array<Record<string, unknown>>, accountId: string): CliError {
  // eslint-disable-next-line no-control-regex -- wrangler colours its output even with NO_COLOR
  const text = `${stderr}\n${stdout}`.replace(/\x1b\[[0-9;]*m/g, '');
  const failed = events.find((e) => e.type === 'command-failed');
  const code = typeof failed?.code === 'number' ? failed.code : numberIn(/\[code: (\d+)\]/.exec(text)?.[1]);
  const raw = text.split('\n');
  const lines = raw.map((l) => l.replace(/^[✘X▲\s[\]A-Z]*ERROR\]?\s*/, '').trim());
  const marked = raw.findIndex((l) => /^\s*✘\s*\[ERROR\]\s*\S/.test(l));
  const hit = lines.findIndex((l) => /error|failed|denied|not found|code:/i.test(l));
  // else wrangler's own error line (e.g. "There is already an application with the name …")
  const at = hit >= 0 ? hit : marked;
  // wrangler's container step prints "Error creating application…:" and the API's answer on the next line
  const line = at < 0 ? `wrangler ${command} failed` : lines[at]!.endsWith(':') ? `${lines[at]} ${lines.slice(at + 1).find((l) => l) ?? ''}`.trim() : lines[at]!;
  // the container step answers 401/403 as a bare "Forbidden"/"Unauthorized": the plan or the token
  if (/Deploy a container application/.test(text) && /^(Forbidden|Unauthorized)$/m.test(lines.join('\n'))) {
    return credentialsError(
      'Cloudflare refused the container application (Forbidden) after uploading the Worker',
      'the account needs the Workers Paid plan and the token Account › Workers Containers › Edit; `crawl4ai-mcp doctor` checks both',
    );
  }
  const plain = plainWords(command, code, text, line, accountId);
  if (plain) return plain;
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

const numberIn = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));

/**
 * The failures a new user meets, in words that say what to do: no workers.dev subdomain yet, a
 * token without a permission (named from the API path wrangler printed), an account id that is
 * not one, and the Workers plan's limits. Codes: developers.cloudflare.com/workers/observability/errors.
 */
function plainWords(command: string, code: number | undefined, text: string, line: string, accountId: string): CliError | undefined {
  const apiPath = /Cloudflare API \((\/[^)\s]+)\)/.exec(text)?.[1];
  if (code === 7003 || /Could not route to \/accounts\/|Invalid account ID/i.test(text)) {
    return credentialsError(
      `CLOUDFLARE_ACCOUNT_ID "${accountId}" is not a Cloudflare account id (the API could not route \`wrangler ${command}\`'s request)`,
      'copy the 32-character Account ID from the Cloudflare dashboard (Workers & Pages, right-hand column) into CLOUDFLARE_ACCOUNT_ID',
    );
  }
  if (code === 10000 || code === 9109 || /Authentication error|Invalid API Token|\b403\b/i.test(text)) {
    const permission = apiPath ? permissionForPath(apiPath) : undefined;
    return credentialsError(
      permission
        ? `Cloudflare refused the API token during \`wrangler ${command}\`: the token needs ${permission}, or CLOUDFLARE_ACCOUNT_ID is not its account`
        : `Cloudflare refused the API token during \`wrangler ${command}\`: ${line}`,
      permission
        ? `add ${permission} to the token (see templates/policies/cloudflare-token.json), and check CLOUDFLARE_ACCOUNT_ID (${accountId}) is the account the token was made for`
        : 'check CLOUDFLARE_API_TOKEN has the permissions in templates/policies/cloudflare-token.json and CLOUDFLARE_ACCOUNT_ID is right',
    );
  }
  if (/workers\.dev subdomain|workers\/onboarding|subdomain_not_found/i.test(text)) {
    return new CliError('this Cloudflare account has no workers.dev subdomain yet, so the Worker cannot get a URL', {
      hint: `register one (once per account) in the Cloudflare dashboard: https://dash.cloudflare.com/${accountId}/workers/onboarding (Workers & Pages asks for a subdomain), then run the command again`,
    });
  }
  if (code === 10037) {
    return capacityError(
      'this Cloudflare account already has as many Workers as its plan allows (code 10037)',
      'delete Workers you no longer use (Workers & Pages in the dashboard) or move to the Workers Paid plan, then run the command again',
    );
  }
  if (code === 10075) {
    return capacityError('this needs the Workers Paid plan, which the Cloudflare account does not have (code 10075)', 'upgrade the account to Workers Paid in the dashboard, then run the command again');
  }
  if (code === 10015) {
    return credentialsError('this Cloudflare account is not entitled to use Workers (code 10015)', 'enable Workers for the account in the dashboard (Workers & Pages), then run the command again');
  }
  return undefined;
}

/** A private working directory for one wrangler session; removed by the caller with `dispose`. */
export async function wranglerWorkdir(prefix = 'crawl4ai-mcp-wrangler-'): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o700);
  return { dir, dispose: () => fs.rm(dir, { recursive: true, force: true }) };
}

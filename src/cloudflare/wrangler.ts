import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError, ExitCode, credentialsError } from '../ground/errors.js';
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
export async function runWrangler(
  args: string[],
  opts: { account: CloudflareAccount; env: NodeJS.ProcessEnv; cwd: string; input?: string; timeoutMs?: number },
): Promise<WranglerResult> {
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
  if (r.exitCode !== 0) throw wranglerError(args[0] ?? 'wrangler', r.stdout, r.stderr, events);
  return { stdout: r.stdout, stderr: r.stderr, events };
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
  const retry = typeof failed?.retry_after_ms === 'number' ? ` (retry after ${Math.ceil(failed.retry_after_ms / 1000)} s)` : '';
  return new CliError(`wrangler ${command} failed: ${line}${retry}`, { exitCode: ExitCode.failed, hint: 'run again with --verbose for wrangler\'s full output' });
}

/** A private working directory for one wrangler session; removed by the caller with `dispose`. */
export async function wranglerWorkdir(prefix = 'crawl4ai-mcp-wrangler-'): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o700);
  return { dir, dispose: () => fs.rm(dir, { recursive: true, force: true }) };
}

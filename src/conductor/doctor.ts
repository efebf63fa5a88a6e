import fs from 'node:fs/promises';
import { configDir } from '../ground/paths.js';
import { wranglerBin } from '../cloudflare/wrangler-bin.js';

/** One line of `doctor`: what was checked, what was found, and how to fix it when it failed. */
export interface Check {
  id: string;
  title: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  hint?: string;
}

export const MIN_NODE = [22, 12] as const;

export function checkNode(version = process.versions.node): Check {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return {
    id: 'node',
    title: 'Node.js',
    status: ok ? 'ok' : 'fail',
    detail: `v${version}`,
    ...(ok ? {} : { hint: `install Node.js ${MIN_NODE.join('.')} or newer (24 LTS recommended)` }),
  };
}

export async function checkSecretBackend(env: NodeJS.ProcessEnv): Promise<Check & { backend?: string; reason?: string }> {
  const { detectSecretBackend } = await import('../secrets/store.js');
  try {
    const choice = await detectSecretBackend(env);
    const usable = choice.backend === 'keychain' || Boolean(env.CRAWL4AI_MCP_PASSPHRASE) || Boolean(process.stdin.isTTY);
    return {
      id: 'secrets',
      title: 'Secret store',
      status: choice.backend === 'keychain' ? 'ok' : usable ? 'warn' : 'fail',
      detail: `${choice.backend === 'keychain' ? 'OS keychain' : 'encrypted file'} (${choice.reason})`,
      backend: choice.backend,
      reason: choice.reason,
      ...(choice.backend === 'keychain'
        ? {}
        : {
            hint: usable
              ? 'secrets go to an encrypted file; install and unlock a keychain (e.g. gnome-keyring) to use the OS keychain'
              : 'no keychain and no passphrase: set CRAWL4AI_MCP_PASSPHRASE or run in a terminal',
          }),
    };
  } catch (e) {
    return { id: 'secrets', title: 'Secret store', status: 'fail', detail: (e as Error).message, hint: 'set CRAWL4AI_MCP_SECRET_BACKEND=file and CRAWL4AI_MCP_PASSPHRASE' };
  }
}

export async function checkWrangler(env: NodeJS.ProcessEnv): Promise<Check> {
  const { execa } = await import('execa');
  try {
    const bin = wranglerBin();
    const r = await execa(process.execPath, [bin, '--version'], {
      env: { ...env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      timeout: 30_000,
      reject: false,
    });
    const version = (r.stdout.match(/\d+\.\d+\.\d+/) ?? [])[0];
    if (r.exitCode === 0 && version) return { id: 'wrangler', title: 'wrangler', status: 'ok', detail: `v${version} (bundled)` };
    return { id: 'wrangler', title: 'wrangler', status: 'fail', detail: `exit ${r.exitCode}: ${(r.stderr || r.stdout).split('\n')[0]}`, hint: 'reinstall crawl4ai-mcp (npm ci) on Node 22.12+' };
  } catch (e) {
    return { id: 'wrangler', title: 'wrangler', status: 'fail', detail: (e as Error).message, hint: 'reinstall crawl4ai-mcp (npm ci)' };
  }
}

export async function checkDocker(env: NodeJS.ProcessEnv): Promise<Check> {
  const { execa } = await import('execa');
  const client = await execa('docker', ['--version'], { env, timeout: 10_000, reject: false }).catch(() => null);
  if (!client || client.exitCode !== 0) {
    return { id: 'docker', title: 'Docker (local use only)', status: 'warn', detail: 'not found', hint: 'only needed for `serve`/`dev` against a local Crawl4AI; see README "Run without a cloud"' };
  }
  const engine = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { env, timeout: 10_000, reject: false }).catch(() => null);
  const version = (client.stdout.match(/\d+\.\d+\.\d+/) ?? [client.stdout])[0];
  if (!engine || engine.exitCode !== 0) {
    return { id: 'docker', title: 'Docker (local use only)', status: 'warn', detail: `client ${version}, engine not running`, hint: 'start the Docker engine to run Crawl4AI locally' };
  }
  return { id: 'docker', title: 'Docker (local use only)', status: 'ok', detail: `client ${version}, engine ${engine.stdout.trim()}` };
}

export async function checkConfigDir(env: NodeJS.ProcessEnv): Promise<Check> {
  const dir = configDir(env);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.access(dir, fs.constants.W_OK);
    return { id: 'config', title: 'Config directory', status: 'ok', detail: dir };
  } catch (e) {
    return { id: 'config', title: 'Config directory', status: 'fail', detail: `${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, hint: 'set CRAWL4AI_MCP_HOME to a writable directory' };
  }
}

/**
 * The Cloudflare token, when one is configured in the environment: is it valid, and does it have
 * every permission each network mode needs? Each missing permission is named.
 */
export async function checkCloudflareToken(env: NodeJS.ProcessEnv): Promise<Check> {
  const title = 'Cloudflare API token';
  if (!env.CLOUDFLARE_API_TOKEN || !env.CLOUDFLARE_ACCOUNT_ID) {
    return { id: 'cloudflare', title, status: 'warn', detail: 'not set in this environment (init asks for it)', hint: 'set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID to check its permissions here' };
  }
  const { CloudflareApi } = await import('../cloudflare/api.js');
  const { checkTokenPermissions } = await import('../cloudflare/tunnel.js');
  const api = new CloudflareApi({ accountId: env.CLOUDFLARE_ACCOUNT_ID, apiToken: env.CLOUDFLARE_API_TOKEN }, { env, retry: { attempts: 1 } });
  try {
    const tunnel = await checkTokenPermissions(api, 'tunnel');
    if (!tunnel.missing.length && tunnel.unchecked.length) {
      return {
        id: 'cloudflare',
        title,
        status: 'warn',
        detail: `valid; could not check ${tunnel.unchecked.join(', ')} (the token may not read its own permissions; no read-only call proves it)`,
        hint: 'make sure the token has it, or `wrangler deploy` of tunnel mode fails with code 10000',
      };
    }
    if (!tunnel.missing.length) return { id: 'cloudflare', title, status: 'ok', detail: 'valid; has every permission for tunnel and public mode' };
    const publicOnly = await checkTokenPermissions(api, 'public');
    return {
      id: 'cloudflare',
      title,
      status: publicOnly.missing.length ? 'fail' : 'warn',
      detail: `lacks ${tunnel.missing.join(', ')}${publicOnly.missing.length ? '' : ' (enough for --network public only)'}`,
      hint: 'add them to the token; templates/policies/cloudflare-token.json lists each and why',
    };
  } catch (e) {
    return { id: 'cloudflare', title, status: 'fail', detail: (e as Error).message, hint: 'check CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID' };
  }
}

/**
 * Provider cloudflare: may this account run Containers (Workers Paid plan) and may the token
 * manage them (Workers Containers › Edit)? A warning, not a failure: the VM providers need neither.
 */
export async function checkCloudflareContainers(env: NodeJS.ProcessEnv): Promise<Check> {
  const title = 'Cloudflare Containers (--provider cloudflare)';
  if (!env.CLOUDFLARE_API_TOKEN || !env.CLOUDFLARE_ACCOUNT_ID) {
    return { id: 'cloudflare-containers', title, status: 'warn', detail: 'not checked: no Cloudflare token in this environment', hint: 'set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID' };
  }
  const { CloudflareApi } = await import('../cloudflare/api.js');
  const { ContainerApplications } = await import('../cloudflare/containers.js');
  const api = new CloudflareApi({ accountId: env.CLOUDFLARE_ACCOUNT_ID, apiToken: env.CLOUDFLARE_API_TOKEN }, { env, retry: { attempts: 1 } });
  try {
    const allowed = await new ContainerApplications(api).checkAllowed();
    if (allowed.ok) return { id: 'cloudflare-containers', title, status: 'ok', detail: 'the account may run Containers and the token may manage them' };
    return { id: 'cloudflare-containers', title, status: 'warn', detail: `the token lacks ${allowed.missingPermission}`, hint: 'add it to use --provider cloudflare (templates/policies/cloudflare-token.json)' };
  } catch (e) {
    const hint = (e as { hint?: string }).hint;
    return { id: 'cloudflare-containers', title, status: 'warn', detail: (e as Error).message, hint: hint ?? 'check CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID' };
  }
}

export async function runDoctor(env: NodeJS.ProcessEnv) {
  const checks = await Promise.all([
    Promise.resolve(checkNode()),
    checkSecretBackend(env),
    checkWrangler(env),
    checkDocker(env),
    checkConfigDir(env),
    checkCloudflareToken(env),
    checkCloudflareContainers(env),
  ]);
  const secrets = checks[1] as Awaited<ReturnType<typeof checkSecretBackend>>;
  return {
    ok: checks.every((c) => c.status !== 'fail'),
    secretBackend: { backend: secrets.backend ?? null, reason: secrets.reason ?? secrets.detail },
    configDir: configDir(env),
    checks,
  };
}

import { notFoundError } from '../ground/errors.js';
import { deploymentsDir } from '../ground/paths.js';
import type { DeploymentSpec, ProviderCredentials, SizeName } from '../model/deployment.js';
import type { ProviderContext } from '../providers/provider.js';
import type { SecretStore } from '../secrets/store.js';
import type { DeploymentState } from '../state/schema.js';
import { StateStore } from '../state/store.js';
import { CloudflareApi } from '../cloudflare/api.js';
import { ContainerApplications } from '../cloudflare/containers.js';

/**
 * What every verb of the conductor works with: the user's environment, the secret store, a
 * reporter for progress lines, and the timings of waits. The CLI builds one per command
 * (src/cli/deploy-options.ts); nothing here prints or prompts by itself.
 */
export interface Reporter {
  step(message: string): void;
  debug(message: string): void;
  /** marks the current step done, e.g. before a question is asked on the same terminal */
  pause(): void;
}

/** Public mode only: how the VM gets a hostname and a certificate. */
export interface PublicNetworkOptions {
  hostname?: string;
  wildcardDomain: 'sslip.io' | 'nip.io';
  acmeEmail?: string;
}

export interface Session {
  env: NodeJS.ProcessEnv;
  secrets: SecretStore;
  reporter: Reporter;
  /** how long to wait for Crawl4AI to answer through the Worker, and how often to look */
  healthTimeoutMs: number;
  healthIntervalMs: number;
  pollMs?: number;
}

export function stateStore(env: NodeJS.ProcessEnv): StateStore {
  return new StateStore(deploymentsDir(env));
}

export function providerContext(spec: DeploymentSpec, credentials: ProviderCredentials, s: Session): ProviderContext {
  // provider cloudflare: its credentials are the Cloudflare account; the container calls go through it
  const cf = spec.provider === 'cloudflare' && credentials.kind === 'static' ? credentials.values : undefined;
  return {
    spec,
    credentials,
    env: s.env,
    ...(cf?.accountId && cf.apiToken
      ? { containers: new ContainerApplications(new CloudflareApi({ accountId: cf.accountId, apiToken: cf.apiToken }, { env: s.env, log: (m) => s.reporter.debug(m) })) }
      : {}),
    progress: (m) => s.reporter.step(m),
    debug: (m) => s.reporter.debug(m),
    ...(s.pollMs !== undefined ? { pollMs: s.pollMs } : {}),
  };
}

/** The journal key (and kind) of the deployment's Worker. */
export const WORKER_KEY = 'cloudflare:worker';

export async function loadDeployment(name: string, env: NodeJS.ProcessEnv): Promise<DeploymentState> {
  const state = await stateStore(env).read(name);
  if (!state) throw notFoundError(`no deployment named "${name}"`, `create it with: crawl4ai-mcp init --name ${name}`);
  if (!state.provider || state.provider === 'local') throw notFoundError(`deployment "${name}" has no cloud VM yet`, `finish it with: crawl4ai-mcp init --name ${name}`);
  return state;
}

export function specOf(state: DeploymentState): DeploymentSpec {
  return {
    name: state.name,
    provider: state.provider as DeploymentSpec['provider'],
    region: state.region ?? '',
    size: (state.size ?? 'medium') as SizeName,
    network: state.network ?? 'public',
    profile: state.profile ?? 'default',
  };
}


import { Option, type Command } from 'commander';
import { missingAnswer, usageError } from '../ground/errors.js';
import type { CommandContext } from './context.js';
import { inquirerPrompter, type Prompter } from './prompter.js';
import { AVAILABLE_PROVIDERS, PROVIDER_NAMES } from '../conductor/providers.js';
import { CPU_CREDIT_MODES, type CpuCredits, type DeploymentSpec, type NetworkMode, type ProviderName, type SizeName } from '../model/deployment.js';
import type { CredentialSource } from '../conductor/credentials.js';
import type { PublicNetworkOptions, Session } from '../conductor/session.js';
import { SIZES, REGIONS } from '../pricing/catalog.js';
import { checkAcmeEmail, checkHostname } from '../bootstrap/cloud-init.js';
import { DEFAULT_IDLE_STOP_MINUTES, idleStopFor } from '../bootstrap/idle-stop.js';
import { createProgress, type Progress } from './progress.js';

/**
 * The answers `init` and `plan` need. Each has a flag, an environment variable and a wizard
 * question, so `init --yes` runs unattended in CI and the wizard runs for people.
 */
export const SIZE_NAMES: readonly SizeName[] = ['small', 'medium', 'large'];
export const NETWORK_MODES: readonly NetworkMode[] = ['tunnel', 'public'];

export function sizeHelp(): string {
  return (AVAILABLE_PROVIDERS as ProviderName[])
    .map((p) => `${p}: ` + SIZE_NAMES.map((s) => `${s}=${SIZES[p][s].instanceType} (${SIZES[p][s].vcpus} vCPU, ${SIZES[p][s].memoryGiB} GiB)`).join(', '))
    .join('; ');
}

/** What "keychain" and "chain" mean on each cloud, in the wizard's words. */
const CREDENTIAL_CHOICES: Record<ProviderName, Array<{ value: CredentialSource; name: string }>> = {
  aws: [
    { value: 'keychain', name: 'An access key for a least-privilege user (stored in your keychain)' },
    { value: 'chain', name: 'My existing AWS configuration (profile, SSO, environment)' },
  ],
  azure: [
    { value: 'keychain', name: 'A service principal with the least-privilege custom role (stored in your keychain)' },
    { value: 'chain', name: 'My Azure CLI login (az login) and AZURE_SUBSCRIPTION_ID' },
  ],
  cloudflare: [{ value: 'keychain', name: 'My Cloudflare API token (the same one that deploys the Worker)' }],
  gcp: [
    { value: 'keychain', name: 'A key of a least-privilege service account (stored in your keychain)' },
    { value: 'chain', name: 'My Application Default Credentials (gcloud auth application-default login)' },
  ],
};

export function addSpecOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--provider <cloud>', 'where the crawler VM runs').choices(PROVIDER_NAMES as string[]).env('CRAWL4AI_MCP_PROVIDER'))
    .addOption(new Option('--region <region>', 'cloud region, e.g. us-east-1').env('CRAWL4AI_MCP_REGION'))
    .addOption(new Option('--size <size>', `VM size: ${sizeHelp()}`).choices(SIZE_NAMES as string[]).env('CRAWL4AI_MCP_SIZE'))
    .addOption(new Option('--network <mode>', 'tunnel (default): no inbound port, reached through Cloudflare Tunnel + Workers VPC; public: HTTPS on 443 with a certificate for a hostname').choices(NETWORK_MODES as string[]).env('CRAWL4AI_MCP_NETWORK'))
    .addOption(new Option('--hostname <host>', 'public mode: your own hostname (an A record to the VM address); default: the address\'s cloud DNS name on Azure, <ip>.sslip.io elsewhere').env('CRAWL4AI_MCP_HOSTNAME'))
    .addOption(new Option('--wildcard-domain <domain>', 'public mode without --hostname: wildcard DNS service').choices(['sslip.io', 'nip.io']).env('CRAWL4AI_MCP_WILDCARD_DOMAIN'))
    .addOption(new Option('--acme-email <email>', 'public mode: email for ZeroSSL, the fallback certificate issuer').env('CRAWL4AI_MCP_ACME_EMAIL'))
    .addOption(new Option('--credentials <source>', 'keychain: an access key (AWS), service-account key (GCP) or service principal (Azure) stored in the secret store; chain: the cloud\'s own login (AWS profile/SSO/env, GCP Application Default Credentials, Azure CLI az login)').choices(['keychain', 'chain']).env('CRAWL4AI_MCP_CREDENTIALS'))
    .addOption(new Option('--profile <name>', 'credential profile in the secret store').env('CRAWL4AI_MCP_PROFILE').default('default'))
    .addOption(cpuCreditsOption())
    .addOption(idleStopOption());
}

export function idleStopOption(): Option {
  return new Option('--idle-stop <duration>', `stop the VM after this long without a crawl request, e.g. 30m or 2h (default ${DEFAULT_IDLE_STOP_MINUTES}m; on Azure the VM deallocates itself through its managed identity), or off; the next tool call or \`start\` starts it again`).env('CRAWL4AI_MCP_IDLE_STOP');
}

/** AWS T3 only: standard (default) never bills bursts; unlimited bills surplus CPU credits. */
export function cpuCreditsOption(): Option {
  return new Option('--cpu-credits <mode>', 'AWS only: standard (default; the CPU slows to its baseline when burst credits run out, never billed extra) or unlimited (bursts on, surplus credits billed at $0.05 per vCPU-hour; `plan` shows the worst case)')
    .choices(CPU_CREDIT_MODES as string[])
    .env('CRAWL4AI_MCP_CPU_CREDITS');
}

/** --cpu-credits names an AWS feature: elsewhere bursts are never billed, so the flag would mislead. */
export function checkCpuCredits(provider: ProviderName, cpuCredits: string | undefined): void {
  if (cpuCredits !== undefined && provider !== 'aws') {
    throw usageError(`--cpu-credits applies to AWS only`, `drop it: ${provider === 'gcp' ? 'GCP e2' : 'Azure B-series'} bursts are never billed extra`);
  }
}

export interface SpecOptions {
  provider?: string;
  region?: string;
  size?: string;
  network?: string;
  hostname?: string;
  wildcardDomain?: 'sslip.io' | 'nip.io';
  acmeEmail?: string;
  credentials?: CredentialSource;
  profile: string;
  cpuCredits?: CpuCredits;
  idleStop?: string;
}

export function prompterFor(c: CommandContext): Prompter | null {
  return c.interactive ? inquirerPrompter() : null;
}

/** One wizard question: the flag/env value when given, else the prompt, else the default, else a usage error. */
function asker(c: CommandContext, prompter: Prompter | null) {
  return async function ask<T extends string>(
    value: T | undefined,
    what: string,
    flag: string,
    envVar: string,
    question: (p: Prompter) => Promise<T>,
    fallback?: T,
  ): Promise<T> {
    if (value) return value;
    if (prompter) return question(prompter);
    if (fallback !== undefined) return fallback;
    throw missingAnswer(what, flag, envVar, c.yes ? 'yes' : 'no-terminal');
  };
}

/** An unknown region is a usage error listing the known ones. */
export function checkRegion(provider: ProviderName, region: string): void {
  const regions = Object.keys(REGIONS[provider]);
  if (!regions.includes(region)) throw usageError(`unknown ${provider} region "${region}"`, `use one of: ${regions.join(', ')}`);
}

/**
 * Every answer already given by flag or variable is checked before a credential is asked for or
 * any API is called, so a typo costs one line, not a credential prompt and a cloud round trip.
 */
function checkGivenAnswers(provider: ProviderName, o: SpecOptions): void {
  if (provider === 'cloudflare') {
    // a Container has no network mode, hostname or cloud login of its own
    const given = [o.network !== undefined && '--network', o.hostname !== undefined && '--hostname', o.acmeEmail !== undefined && '--acme-email', o.wildcardDomain !== undefined && '--wildcard-domain', o.credentials === 'chain' && '--credentials chain'].filter(Boolean);
    if (given.length) throw usageError(`${given.join(', ')} ${given.length === 1 ? 'does' : 'do'} not apply to --provider cloudflare (Crawl4AI runs as a Cloudflare Container, reached only by the Worker)`, 'drop it, or pick a VM provider (aws, gcp, azure)');
  }
  checkCpuCredits(provider, o.cpuCredits);
  idleStopFor(provider, o.idleStop);
  if (o.region) checkRegion(provider, o.region);
  if (o.hostname !== undefined) checkHostname(o.hostname);
  if (o.acmeEmail !== undefined) checkAcmeEmail(o.acmeEmail);
  if (o.network) checkPublicOnlyOptions(o.network as NetworkMode, o);
}

function checkPublicOnlyOptions(network: NetworkMode, o: SpecOptions): void {
  if (network === 'public') return;
  const given = [o.hostname !== undefined && '--hostname', o.acmeEmail !== undefined && '--acme-email', o.wildcardDomain !== undefined && '--wildcard-domain'].filter(Boolean);
  if (given.length) throw usageError(`${given.join(', ')} ${given.length === 1 ? 'applies' : 'apply'} to --network public only`, 'drop it, or pass --network public');
}

/**
 * Asks (or reads from flags/env) the answers in the wizard's order: cloud, credentials, region,
 * size. `credentialsStep` runs right after the credential source is known, so the access key is
 * asked before the region, as a person expects.
 */
export async function resolveSpec<C>(
  c: CommandContext,
  o: SpecOptions,
  credentialsStep: (provider: ProviderName, source: CredentialSource) => Promise<C>,
): Promise<{ spec: DeploymentSpec; network: PublicNetworkOptions; credentials: C }> {
  const ask = asker(c, prompterFor(c));
  const provider = await ask(o.provider as ProviderName | undefined, 'the cloud provider', '--provider', 'CRAWL4AI_MCP_PROVIDER', (q) =>
    q.select<ProviderName>('Which cloud should run your crawler VM?', PROVIDER_NAMES.map((n) => ({ value: n, name: n === 'cloudflare' ? 'CLOUDFLARE (a Container next to the Worker: no other cloud account)' : n.toUpperCase(), ...(AVAILABLE_PROVIDERS.includes(n) ? {} : { description: 'not available yet' }) }))),
  );
  if (!AVAILABLE_PROVIDERS.includes(provider)) throw usageError(`provider "${provider}" is not available in this version yet`, `use --provider ${AVAILABLE_PROVIDERS.join('|')}`);
  checkGivenAnswers(provider, o);
  const source = provider === 'cloudflare' ? 'keychain' : await ask(o.credentials, 'the credential source', '--credentials', 'CRAWL4AI_MCP_CREDENTIALS', (q) =>
    q.select<CredentialSource>('Which credentials?', CREDENTIAL_CHOICES[provider]), 'keychain');
  const credentials = await credentialsStep(provider, source);
  const regions = Object.keys(REGIONS[provider]);
  const region = regions.length === 1 ? (o.region ?? regions[0]!) : await ask(o.region, 'the region', '--region', 'CRAWL4AI_MCP_REGION', (q) =>
    q.select('Region', regions.map((r) => ({ value: r, name: r })), regions[0]));
  checkRegion(provider, region);
  const size = await ask(o.size as SizeName | undefined, 'the VM size', '--size', 'CRAWL4AI_MCP_SIZE', (q) =>
    q.select<SizeName>('VM size', SIZE_NAMES.map((s) => ({ value: s, name: `${s}: ${SIZES[provider][s].instanceType}, ${SIZES[provider][s].vcpus} vCPU, ${SIZES[provider][s].memoryGiB} GiB` })), 'medium'), 'medium');
  const network = provider === 'cloudflare' ? 'container' : await ask(o.network as NetworkMode | undefined, 'the network mode', '--network', 'CRAWL4AI_MCP_NETWORK', (q) =>
    q.select<NetworkMode>('How should your Worker reach the VM?', [
      { value: 'tunnel', name: 'Cloudflare Tunnel (recommended): the VM opens no inbound port at all' },
      { value: 'public', name: 'Public HTTPS: the VM opens 443 with a certificate for a hostname' },
    ], 'tunnel'), 'tunnel');
  checkPublicOnlyOptions(network, o);
  return {
    spec: { name: c.name, provider, region, size, network, profile: o.profile, ...(o.cpuCredits ? { cpuCredits: o.cpuCredits } : {}), idleStopMinutes: idleStopFor(provider, o.idleStop) },
    network: { wildcardDomain: o.wildcardDomain ?? 'sslip.io', ...(o.hostname ? { hostname: o.hostname } : {}), ...(o.acmeEmail ? { acmeEmail: o.acmeEmail } : {}) },
    credentials,
  };
}

/** A duration in ms from the environment: unset = the default; anything but a positive integer = a usage error naming it. */
export function envMs(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw usageError(`${name}=${raw} is not a duration`, `set it to a whole number of milliseconds, e.g. ${name}=${fallback}, or unset it`);
  return n;
}

async function openSession(c: CommandContext, progress: Progress): Promise<Session> {
  // Checked before the secret store opens: a typo never costs a passphrase prompt.
  const healthTimeoutMs = envMs(c.env, 'CRAWL4AI_MCP_HEALTH_TIMEOUT_MS', 15 * 60_000);
  const healthIntervalMs = envMs(c.env, 'CRAWL4AI_MCP_HEALTH_INTERVAL_MS', 10_000);
  const pollMs = c.env.CRAWL4AI_MCP_POLL_MS ? envMs(c.env, 'CRAWL4AI_MCP_POLL_MS', 5_000) : undefined;
  // loaded here, not at start-up: `--help` and the commands that never open it skip the keychain and crypto modules
  const { openSecretStore, promptPassphrase } = await import('../secrets/store.js');
  const secrets = await openSecretStore({ env: c.env, interactive: c.interactive, promptPassphrase });
  return {
    env: c.env,
    secrets,
    reporter: {
      step: (m) => progress.step(m),
      debug: (m) => c.out.debug(m),
      pause: () => progress.end(true),
    },
    healthTimeoutMs,
    healthIntervalMs,
    ...(pollMs !== undefined ? { pollMs } : {}),
  };
}

/**
 * Runs a command body with a session (secret store, progress reporter, timings); the progress
 * display ends with ✔ or ✘ whether the body succeeds or throws.
 */
export async function withSession<T>(c: CommandContext, body: (s: Session) => Promise<T>): Promise<T> {
  const progress = await createProgress(c);
  try {
    const result = await body(await openSession(c, progress));
    progress.end(true);
    return result;
  } catch (e) {
    progress.end(false);
    throw e;
  }
}

import { randomBytes } from 'node:crypto';
import { CliError, ExitCode, credentialsError, notFoundError, usageError } from './errors.js';
import { deploymentsDir } from './paths.js';
import { generateApiKey, hashApiKey } from './api-key.js';
import { checkWorker, waitHealthyThroughWorker, type WorkerHealth } from './worker-health.js';
import { renderCloudInit, hostnameForIp, CRAWL4AI_IMAGE, memoryLimitFor } from './cloud-init.js';
import { DEFAULT_DISK_GIB, SIZES } from '../pricing/catalog.js';
import { costSoFar } from '../pricing/estimate.js';
import { StateStore } from '../state/store.js';
import { Journal } from '../state/journal.js';
import { withDeploymentLock } from '../state/lock.js';
import { newDeploymentState, type DeploymentState } from '../state/schema.js';
import { deploymentPrefix, deploymentSecret } from '../secrets/keys.js';
import type { SecretStore } from '../secrets/store.js';
import { loadProvider } from '../providers/registry.js';
import type { DeploymentSpec, Plan, Provider, ProviderContext, ProviderCredentials, SizeName, VmStatus, DiscoveredResource } from '../providers/provider.js';
import { WorkerDeployer, workerScriptName } from '../cloudflare/worker-deployer.js';
import type { CloudflareAccount } from '../cloudflare/wrangler.js';
import { CloudflareApi } from '../cloudflare/api.js';
import {
  TUNNEL_JOURNAL_KEY,
  checkTokenPermissions,
  destroyTunnelResources,
  ensureTunnel,
  ensureVpcService,
  tunnelHealth,
  type TunnelStatus,
} from '../cloudflare/tunnel.js';

/**
 * The deploy orchestration, shared by every provider: plan -> apply -> deploy Worker -> verify,
 * plus the day-2 verbs. Providers only talk to their cloud; waiting, journaling, secrets and the
 * Worker live here, once.
 */
/** The journal key (and kind) of the deployment's Worker. */
const WORKER_KEY = 'cloudflare:worker';

export interface Reporter {
  step(message: string): void;
  debug(message: string): void;
  /** marks the current step done, e.g. before a question is asked on the same terminal */
  pause(): void;
}

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

function providerContext(spec: DeploymentSpec, credentials: ProviderCredentials, s: Session): ProviderContext {
  return {
    spec,
    credentials,
    env: s.env,
    progress: (m) => s.reporter.step(m),
    debug: (m) => s.reporter.debug(m),
    ...(s.pollMs !== undefined ? { pollMs: s.pollMs } : {}),
  };
}

export async function planDeployment(spec: DeploymentSpec, credentials: ProviderCredentials, s: Session): Promise<{ provider: Provider; plan: Plan }> {
  const provider = await loadProvider(spec.provider);
  const plan = await provider.plan(providerContext(spec, credentials, s));
  return { provider, plan: { ...plan, resources: [...plan.resources, ...cloudflareResources(spec)] } };
}

/** What the deployment creates on Cloudflare, whatever the cloud (free on the Workers free plan). */
function cloudflareResources(spec: DeploymentSpec): Plan['resources'] {
  const name = workerScriptName(spec.name);
  return [
    ...(spec.network === 'tunnel'
      ? [
          { kind: 'Cloudflare Tunnel', name, detail: 'remotely managed; cloudflared on the VM connects out over QUIC' },
          { kind: 'Workers VPC service', name, detail: 'http://127.0.0.1:11235 on the VM, through the tunnel' },
        ]
      : []),
    { kind: 'Cloudflare Worker', name, detail: 'the MCP endpoint; API key hashes in its SQLite Durable Object' },
  ];
}

async function ensureSecret(store: SecretStore, account: string, make: () => string): Promise<string> {
  const existing = await store.get(account);
  if (existing) return existing;
  const v = make();
  await store.set(account, v);
  return v;
}

export interface InitResult {
  state: DeploymentState;
  plan: Plan;
  vm: VmStatus;
  health: WorkerHealth;
}

/**
 * Creates a deployment, or resumes one whose earlier `init` stopped half-way (the journal and
 * the idempotency tokens make every step safe to repeat).
 */
export async function initDeployment(
  spec: DeploymentSpec,
  credentials: ProviderCredentials,
  cloudflare: CloudflareAccount,
  network: PublicNetworkOptions,
  s: Session,
): Promise<InitResult> {
  const store = stateStore(s.env);
  return withDeploymentLock(deploymentsDir(s.env), spec.name, 'init', async () => {
    const existing = await store.read(spec.name);
    if (existing && existing.status === 'ready') {
      throw usageError(`deployment "${spec.name}" already exists`, `see \`crawl4ai-mcp status --name ${spec.name}\`, or pick another --name`);
    }
    if (existing && existing.provider && existing.provider !== spec.provider) {
      throw usageError(`deployment "${spec.name}" was started on ${existing.provider}`, `resume it with --provider ${existing.provider}, or destroy it first`);
    }
    const journal = new Journal(store, existing ?? newDeploymentState(spec.name));
    const ctx = providerContext(spec, credentials, s);
    const provider = await loadProvider(spec.provider);

    s.reporter.step('checking cloud credentials');
    const v = await provider.validateCredentials(ctx);
    if (v.missing.length) {
      throw credentialsError(
        `the ${spec.provider.toUpperCase()} credentials lack ${v.missing.join(', ')}`,
        `grant the policy in templates/policies/${spec.provider}-iam-policy.json to ${v.identity}`,
      );
    }
    s.reporter.debug(`cloud identity: ${v.identity}`);
    const cf = new CloudflareApi(cloudflare, { env: s.env, log: (m) => s.reporter.debug(m) });
    s.reporter.step('checking the Cloudflare API token');
    const perms = await checkTokenPermissions(cf, spec.network);
    if (perms.missing.length) {
      throw credentialsError(
        `the Cloudflare API token lacks ${perms.missing.join(', ')}`,
        'edit the token to add them (templates/policies/cloudflare-token.json lists each and why)',
      );
    }
    const plan = await provider.plan(ctx);

    // Secrets first: if anything later fails, nothing created depends on a lost value.
    const crawl4aiToken = await ensureSecret(s.secrets, deploymentSecret(spec.name, 'crawl4ai-token'), () => randomBytes(32).toString('hex'));
    const apiKey = await ensureSecret(s.secrets, deploymentSecret(spec.name, 'mcp-api-key'), generateApiKey);

    await journal.update({
      status: 'provisioning',
      provider: spec.provider,
      region: spec.region,
      size: spec.size,
      network: spec.network,
      profile: spec.profile,
      credentials: credentials.kind === 'chain' ? 'chain' : 'keychain',
    });

    // Tunnel mode: the Cloudflare side first, because the VM's bootstrap carries the connector
    // token and the Worker binds the VPC service. Both calls are safe to repeat on a resume.
    let tunnel: { tunnelId: string; token: string; serviceId: string } | undefined;
    if (spec.network === 'tunnel') {
      s.reporter.step('creating the Cloudflare Tunnel and its Workers VPC service');
      const t = await ensureTunnel(cf, journal, spec.name, { log: (m) => s.reporter.debug(m) });
      await s.secrets.set(deploymentSecret(spec.name, 'tunnel-token'), t.token);
      const { serviceId } = await ensureVpcService(cf, journal, spec.name, t.tunnelId, { log: (m) => s.reporter.debug(m) });
      tunnel = { ...t, serviceId };
    }

    const memoryGiB = SIZES[spec.provider][spec.size].memoryGiB;
    const bootstrapFor = (addr: { publicIp?: string }) => {
      const hostname = network.hostname ?? (addr.publicIp ? hostnameForIp(addr.publicIp, network.wildcardDomain) : undefined);
      if (spec.network === 'public' && !hostname) throw new CliError('public mode needs the VM address before boot', { exitCode: ExitCode.failed });
      return {
        userData: renderCloudInit({
          deployment: spec.name,
          network: spec.network,
          crawl4aiImage: CRAWL4AI_IMAGE,
          crawl4aiToken,
          memoryLimit: memoryLimitFor(memoryGiB),
          memoryGiB,
          ...(spec.network === 'public' && hostname ? { hostname } : {}),
          ...(spec.network === 'public' && network.acmeEmail ? { acmeEmail: network.acmeEmail } : {}),
          ...(tunnel ? { tunnelToken: tunnel.token } : {}),
        }),
        inboundPorts: spec.network === 'public' ? [443] : [],
      };
    };

    s.reporter.step(`creating the VM on ${spec.provider.toUpperCase()} (${plan.instanceType} in ${spec.region})`);
    const vm = await provider.apply(ctx, journal, bootstrapFor);
    const hostname =
      spec.network === 'public' ? (network.hostname ?? (vm.publicIp ? hostnameForIp(vm.publicIp, network.wildcardDomain) : undefined)) : undefined;
    await journal.update({ outputs: { ...powerHistory(journal.state, true), publicIp: vm.publicIp ?? null, hostname: hostname ?? null } });

    // The Worker deploys while the VM boots (cloud-init takes minutes; the Worker seconds).
    const deployer = new WorkerDeployer(cloudflare, s.env, (m) => s.reporter.debug(m));
    const scriptName = workerScriptName(spec.name);
    if (journal.find(WORKER_KEY)?.phase !== 'created') await journal.intend(WORKER_KEY, WORKER_KEY);
    s.reporter.step(`deploying the Worker ${scriptName}`);
    const worker = await deployer.deploy({
      deployment: spec.name,
      ...(tunnel ? { vpcServiceId: tunnel.serviceId } : { originUrl: `https://${hostname}` }),
      secrets: { CRAWL4AI_API_TOKEN: crawl4aiToken, BOOTSTRAP_KEY_SHA256: await hashApiKey(apiKey) },
    });
    await journal.created(WORKER_KEY, scriptName, { url: worker.url }); // merges into a record created by an earlier run
    // The account id lives in the secret store with the token (it names where the token works), not here.
    await journal.update({ worker: { scriptName, url: worker.url } });

    s.reporter.step('waiting for Crawl4AI to answer through the Worker (the VM is booting)');
    const health = await waitHealthyThroughWorker(worker.url, apiKey, {
      timeoutMs: s.healthTimeoutMs,
      intervalMs: s.healthIntervalMs,
      onWait: (h) => s.reporter.debug(`not healthy yet: ${h.origin.error ?? h.worker.error ?? ''}`),
    });
    await journal.update({ status: 'ready', outputs: { ...journal.state.outputs, crawl4aiVersion: health.origin.version ?? null } });
    return { state: journal.state, plan, vm, health };
  });
}

export interface StatusReport {
  name: string;
  provider: string | null;
  region?: string;
  size?: string;
  network?: string;
  status: string;
  vm: VmStatus;
  address: { publicIp?: string | null; hostname?: string | null };
  worker: { url?: string; ok: boolean; version?: string; error?: string };
  crawl4ai: { ok: boolean; version?: string; error?: string };
  cost: { soFarUsd: number; monthlyUsd: number; since: string };
  drift: { missing: string[]; unexpected: DiscoveredResource[] };
  /** tunnel mode only */
  tunnel?: { id: string | null; status: TunnelStatus | 'unknown'; connectors: number; error?: string };
}

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

async function tunnelStatusOf(state: DeploymentState, cloudflare: CloudflareAccount | null, s: Session): Promise<StatusReport['tunnel']> {
  if (state.network !== 'tunnel') return undefined;
  const id = state.resources.find((r) => r.key === TUNNEL_JOURNAL_KEY && r.phase === 'created')?.id ?? null;
  if (!id) return { id: null, status: 'missing', connectors: 0 };
  if (!cloudflare) return { id, status: 'unknown', connectors: 0, error: 'no Cloudflare credentials in the secret store' };
  try {
    return { id, ...(await tunnelHealth(new CloudflareApi(cloudflare, { env: s.env }), id)) };
  } catch (e) {
    return { id, status: 'unknown', connectors: 0, error: (e as Error).message };
  }
}

export async function deploymentStatus(
  state: DeploymentState,
  credentials: ProviderCredentials,
  cloudflare: CloudflareAccount | null,
  s: Session,
): Promise<StatusReport> {
  const spec = specOf(state);
  const provider = await loadProvider(spec.provider);
  const ctx = providerContext(spec, credentials, s);
  const journal = new Journal(stateStore(s.env), state);
  const [vm, discovered, apiKey, tunnel] = await Promise.all([
    provider.status(ctx, journal),
    provider.discover(ctx),
    s.secrets.get(deploymentSecret(state.name, 'mcp-api-key')),
    tunnelStatusOf(state, cloudflare, s),
  ]);
  const health = state.worker ? await checkWorker(state.worker.url, apiKey, 10_000) : null;
  const cloudIds = new Set(discovered.map((d) => d.id));
  const liveCloud = journal.live().filter((r) => r.phase === 'created' && r.id && !r.kind.startsWith('cloudflare:'));
  const missing = liveCloud.filter((r) => !cloudIds.has(r.id!)).map((r) => `${r.kind} ${r.id}`);
  const known = new Set(liveCloud.map((r) => r.id));
  const unexpected = discovered.filter((d) => !known.has(d.id));
  const since = state.createdAt;
  const hours = (Date.now() - Date.parse(since)) / 3_600_000;
  const cost = costSoFar({
    provider: spec.provider,
    region: spec.region,
    size: spec.size,
    diskGiB: DEFAULT_DISK_GIB,
    publicIpv4: true, // tunnel mode too: the VM needs one to connect out
    staticIpv4: spec.network === 'public', // only the Elastic IP is billed while stopped
    runningHours: runningHoursOf(state),
    totalHours: hours,
  });
  return {
    name: state.name,
    provider: state.provider,
    ...(state.region ? { region: state.region } : {}),
    ...(state.size ? { size: vm.instanceType ? sizeOfType(spec.provider, vm.instanceType) ?? state.size : state.size } : {}),
    ...(state.network ? { network: state.network } : {}),
    status: state.status,
    vm,
    address: { publicIp: vm.publicIp ?? (state.outputs.publicIp as string | null | undefined) ?? null, hostname: (state.outputs.hostname as string | null | undefined) ?? null },
    worker: { ...(state.worker ? { url: state.worker.url } : {}), ok: health?.worker.ok ?? false, ...pick(health?.worker) },
    crawl4ai: { ok: health?.origin.ok ?? false, ...pick(health?.origin) },
    cost: { soFarUsd: round2(cost.soFarUsd), monthlyUsd: round2(cost.monthlyUsd), since },
    drift: { missing, unexpected },
    ...(tunnel ? { tunnel } : {}),
  };
}

/**
 * Hours the VM has run, from the power history kept in the state's outputs (`runningSince` while
 * running, `runningHoursBefore` summed over earlier runs), so the cost so far counts stopped
 * time as stopped.
 */
export function runningHoursOf(state: DeploymentState, now = Date.now()): number {
  const before = typeof state.outputs.runningHoursBefore === 'number' ? state.outputs.runningHoursBefore : 0;
  const since = typeof state.outputs.runningSince === 'string' ? Date.parse(state.outputs.runningSince) : NaN;
  return before + (Number.isFinite(since) ? Math.max(0, now - since) / 3_600_000 : 0);
}

/** The outputs after the VM started (running) or stopped (not running). */
function powerHistory(state: DeploymentState, running: boolean, now = new Date()): DeploymentState['outputs'] {
  const wasRunning = typeof state.outputs.runningSince === 'string';
  if (running) return wasRunning ? state.outputs : { ...state.outputs, runningSince: now.toISOString() };
  return { ...state.outputs, runningHoursBefore: runningHoursOf(state, now.getTime()), runningSince: null };
}

function pick(h?: { version?: string; error?: string }) {
  return { ...(h?.version ? { version: h.version } : {}), ...(h?.error ? { error: h.error } : {}) };
}
const round2 = (n: number) => Math.round(n * 100) / 100;

function sizeOfType(provider: DeploymentSpec['provider'], instanceType: string): SizeName | undefined {
  return (Object.entries(SIZES[provider]) as Array<[SizeName, { instanceType: string }]>).find(([, v]) => v.instanceType === instanceType)?.[0];
}

/** stop / start / scale: one locked, journaled operation, then (for start/scale) wait for health. */
export async function changePower(
  state: DeploymentState,
  credentials: ProviderCredentials,
  s: Session,
  op: { kind: 'stop' } | { kind: 'start' } | { kind: 'resize'; size: SizeName },
): Promise<{ vm: VmStatus; health?: WorkerHealth }> {
  const spec = specOf(state);
  const store = stateStore(s.env);
  return withDeploymentLock(deploymentsDir(s.env), state.name, op.kind, async () => {
    const fresh = (await store.read(state.name)) ?? state;
    const journal = new Journal(store, fresh);
    const provider = await loadProvider(spec.provider);
    const ctx = providerContext(spec, credentials, s);
    let vm: VmStatus;
    if (op.kind === 'stop') {
      s.reporter.step('stopping the VM (you then pay only for its disk and address)');
      vm = await provider.stop(ctx, journal);
      await journal.update({ status: 'stopped', outputs: powerHistory(journal.state, false) });
      return { vm };
    }
    if (op.kind === 'resize') {
      s.reporter.step(`resizing to ${op.size} (${SIZES[spec.provider][op.size].instanceType}): stop, change type, start`);
      await journal.update({ outputs: powerHistory(journal.state, false) }); // resize stops the VM first
      vm = await provider.resize(ctx, journal, op.size);
      await journal.update({ size: op.size, outputs: powerHistory(journal.state, true) });
    } else {
      s.reporter.step('starting the VM');
      vm = await provider.start(ctx, journal);
      await journal.update({ outputs: powerHistory(journal.state, true) });
    }
    const apiKey = await s.secrets.get(deploymentSecret(state.name, 'mcp-api-key'));
    let health: WorkerHealth | undefined;
    if (fresh.worker && apiKey) {
      s.reporter.step('waiting for Crawl4AI to answer through the Worker');
      health = await waitHealthyThroughWorker(fresh.worker.url, apiKey, { timeoutMs: s.healthTimeoutMs, intervalMs: s.healthIntervalMs });
    }
    await journal.update({ status: 'ready' });
    return { vm, ...(health ? { health } : {}) };
  });
}

/**
 * Removes everything the deployment owns: the VM and its network pieces (from the journal and by
 * tag, so a lost state file still cleans up), the Worker, its secrets and the state file.
 */
export async function destroyDeployment(
  name: string,
  target: { spec: DeploymentSpec; credentials: ProviderCredentials; cloudflare: CloudflareAccount | null },
  s: Session,
): Promise<{ removed: string[] }> {
  const store = stateStore(s.env);
  return withDeploymentLock(deploymentsDir(s.env), name, 'destroy', async () => {
    const state = (await store.read(name)) ?? newDeploymentState(name);
    const journal = new Journal(store, state);
    const removed: string[] = [];
    const hadState = state.resources.length > 0 || Boolean(state.provider);
    if (hadState) await journal.update({ status: 'destroying' });
    const provider = await loadProvider(target.spec.provider);
    const ctx = providerContext(target.spec, target.credentials, s);

    s.reporter.step(`deleting cloud resources on ${target.spec.provider.toUpperCase()} (${target.spec.region})`);
    await provider.destroy(ctx, journal);
    removed.push(`${target.spec.provider} resources`);

    if (target.cloudflare) {
      s.reporter.step(`deleting the Worker ${workerScriptName(name)}`);
      const deployer = new WorkerDeployer(target.cloudflare, s.env, (m) => s.reporter.debug(m));
      if (await deployer.delete(name)) removed.push(`worker ${workerScriptName(name)}`);
      if (journal.find(WORKER_KEY)) await journal.deleted(WORKER_KEY);
      // After the Worker, so no deployed binding still points at the VPC service; found by name
      // too, so a lost state file still cleans up.
      s.reporter.step('deleting the Cloudflare Tunnel and its VPC service');
      const gone = await destroyTunnelResources(new CloudflareApi(target.cloudflare, { env: s.env }), journal, name, { log: (m) => s.reporter.debug(m) });
      if (gone.tunnels.length) removed.push(`tunnel ${gone.tunnels.join(', ')}`);
      if (gone.vpcServices.length) removed.push(`VPC service ${gone.vpcServices.join(', ')}`);
    } else if (state.worker) {
      throw credentialsError('no Cloudflare credentials to delete the Worker', 'set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID, then run destroy again');
    }

    const n = await s.secrets.deleteAll(deploymentPrefix(name));
    if (n) removed.push(`${n} secret-store entries`);
    await store.remove(name);
    return { removed };
  });
}

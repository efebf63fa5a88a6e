import { DEFAULT_DISK_GIB, SIZES } from '../pricing/catalog.js';
import { costSoFar, hourlyRate } from '../pricing/estimate.js';
import type { DiscoveredResource, ProviderCredentials, SizeName, DeploymentSpec, VmStatus } from '../model/deployment.js';
import { Journal } from '../state/journal.js';
import type { DeploymentState } from '../state/schema.js';
import { deploymentSecret } from '../secrets/keys.js';
import type { CloudflareAccount } from '../cloudflare/wrangler.js';
import { CloudflareApi } from '../cloudflare/api.js';
import { TUNNEL_JOURNAL_KEY, tunnelHealth, type TunnelStatus } from '../cloudflare/tunnel.js';
import { loadProvider } from './providers.js';
import { reconciledPowerHistory, runningHoursOf } from './power-history.js';
import { withDeploymentLock } from '../state/lock.js';
import { deploymentsDir } from '../ground/paths.js';
import { providerContext, specOf, stateStore, type Session } from './session.js';
import { checkWorker } from './worker-health.js';
import { AdminClient, usageTotals } from './keys.js';
import { sizeAdvice, type OriginMemory, type SizeAdvice } from './size-advice.js';

/** `status`: the VM, the tunnel, the Worker and Crawl4AI through it, the cost so far, and drift. */
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
  /** hourlyUsd: the rate in the VM's current state (running, or stopped: disk and a static address) */
  cost: { soFarUsd: number; monthlyUsd: number; since: string; hourlyUsd: number };
  drift: { missing: string[]; unexpected: DiscoveredResource[] };
  /** idle auto-stop minutes as init or `scale --idle-stop` last set them (0 = off; absent: a Container, which sleeps by itself) */
  idleStopMinutes?: number;
  /** tool calls over every key, from the Worker's admin API (absent when this machine has no admin key) */
  usage?: ReturnType<typeof usageTotals> | { error: string };
  /** Crawl4AI's memory figures through the Worker's admin API (running VM and an admin key only) */
  memory?: OriginMemory;
  /** a larger or smaller size, from those figures */
  suggestion?: SizeAdvice;
  /** tunnel mode only */
  tunnel?: { id: string | null; status: TunnelStatus | 'unknown'; connectors: number; error?: string };
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
  // The Worker's health and usage do not wait for the cloud's answers: all chains run at once.
  const worker = state.worker;
  const healthAndUsage = async () => {
    if (!worker) return { health: null, usage: undefined, memory: undefined };
    const [apiKey, adminKey] = await Promise.all([s.secrets.get(deploymentSecret(state.name, 'mcp-api-key')), s.secrets.get(deploymentSecret(state.name, 'admin-key'))]);
    const health = await checkWorker(worker.url, apiKey, 10_000);
    if (!adminKey || !health.worker.ok) return { health, usage: undefined };
    const [usage, memory] = await Promise.all([usageOf(worker.url, adminKey), health.origin.ok ? memoryOf(worker.url, adminKey) : undefined]);
    return { health, usage, memory };
  };
  const [vm, discovered, { health, usage, memory }, tunnel] = await Promise.all([provider.status(ctx, journal), provider.discover(ctx), healthAndUsage(), tunnelStatusOf(state, cloudflare, s)]);
  const cloudIds = new Set(discovered.map((d) => d.id));
  // notTagged records (AWS's wake user) are found by name, not by the tag search: no drift check
  const liveCloud = journal.live().filter((r) => r.phase === 'created' && r.id && !r.kind.startsWith('cloudflare:') && r.meta.notTagged !== true);
  const missing = liveCloud.filter((r) => !cloudIds.has(r.id!)).map((r) => `${r.kind} ${r.id}`);
  const known = new Set(liveCloud.map((r) => r.id));
  const unexpected = discovered.filter((d) => !known.has(d.id));
  const since = state.createdAt;
  const hours = (Date.now() - Date.parse(since)) / 3_600_000;
  const priced = {
    provider: spec.provider,
    region: spec.region,
    size: spec.size,
    diskGiB: DEFAULT_DISK_GIB,
    publicIpv4: true, // tunnel mode too: the VM needs one to connect out
    staticIpv4: spec.network === 'public', // only the Elastic IP is billed while stopped
  };
  const history = await recordUnseenPowerChange(state, vm, s);
  const cost = costSoFar({ ...priced, runningHours: runningHoursOf(history), totalHours: hours });
  const suggestion = vm.state === 'running' ? sizeAdvice(state.name, { ...priced, ...(vm.cpuCredits ? { cpuCredits: vm.cpuCredits } : {}) }, memory) : null;
  // pending/stopping bill compute too; stopped (however it got there) and terminated do not
  const billedRunning = vm.state === 'running' || vm.state === 'pending' || vm.state === 'stopping' || vm.computeBilled === true;
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
    cost: { soFarUsd: round2(cost.soFarUsd), monthlyUsd: round2(cost.monthlyUsd), since, hourlyUsd: Math.round(hourlyRate(priced, billedRunning) * 10_000) / 10_000 },
    drift: { missing, unexpected },
    ...(typeof state.outputs.idleStopMinutes === 'number' ? { idleStopMinutes: state.outputs.idleStopMinutes } : {}),
    ...(usage ? { usage } : {}),
    ...(memory ? { memory } : {}),
    ...(suggestion ? { suggestion } : {}),
    ...(tunnel ? { tunnel } : {}),
  };
}

/**
 * A stop or start the CLI did not make (the idle watchdog, the Worker's wake) goes into the power
 * history at the time the cloud reports, so the cost so far stops counting a stopped VM as running.
 * Written under the deployment lock, re-read first; when another command holds the lock (it is
 * changing the power state itself) or the write fails, the report still uses the corrected history.
 */
async function recordUnseenPowerChange(state: DeploymentState, vm: VmStatus, s: Session): Promise<DeploymentState> {
  const outputs = reconciledPowerHistory(state, vm);
  if (!outputs) return state;
  const store = stateStore(s.env);
  try {
    return await withDeploymentLock(deploymentsDir(s.env), state.name, 'status', async () => {
      const fresh = (await store.read(state.name)) ?? state;
      const now = reconciledPowerHistory(fresh, vm);
      if (!now) return fresh;
      const journal = new Journal(store, fresh);
      await journal.update({ outputs: now });
      s.reporter.debug(`power history: the VM is ${vm.state} (the cloud says since ${vm.state === 'running' ? vm.startedAt : vm.stoppedAt ?? 'unknown'}): recorded`);
      return journal.state;
    });
  } catch {
    return { ...state, outputs };
  }
}

/** Crawl4AI's memory figures through the admin API; never throws. */
async function memoryOf(url: string, adminKey: string): Promise<OriginMemory> {
  try {
    return await new AdminClient({ url: url.replace(/\/+$/, ''), adminKey }, 10_000).originHealth();
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Usage totals through the admin API; never throws (status reports, it does not fail on this). */
async function usageOf(url: string, adminKey: string): Promise<StatusReport['usage']> {
  try {
    return usageTotals((await new AdminClient({ url: url.replace(/\/+$/, ''), adminKey }, 10_000).list(true)).keys);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function pick(h?: { version?: string; error?: string }) {
  return { ...(h?.version ? { version: h.version } : {}), ...(h?.error ? { error: h.error } : {}) };
}
const round2 = (n: number) => Math.round(n * 100) / 100;

function sizeOfType(provider: DeploymentSpec['provider'], instanceType: string): SizeName | undefined {
  return (Object.entries(SIZES[provider]) as Array<[SizeName, { instanceType: string }]>).find(([, v]) => v.instanceType === instanceType)?.[0];
}


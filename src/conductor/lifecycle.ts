import { deploymentsDir } from '../ground/paths.js';
import type { ProviderCredentials, SizeName, VmStatus } from '../model/deployment.js';
import { SIZES } from '../pricing/catalog.js';
import { Journal } from '../state/journal.js';
import { withDeploymentLock } from '../state/lock.js';
import type { DeploymentState } from '../state/schema.js';
import { deploymentSecret } from '../secrets/keys.js';
import { loadProvider } from './providers.js';
import { powerHistory } from './power-history.js';
import { providerContext, specOf, stateStore, type Session } from './session.js';
import { waitHealthyThroughWorker, type WorkerHealth } from './worker-health.js';
import { WorkerDeployer } from '../cloudflare/worker-deployer.js';
import { usageError } from '../ground/errors.js';
import type { Provider, ProviderContext } from '../providers/provider.js';

/** Where the state's outputs keep the container instance count (provider cloudflare). */
const INSTANCES_OUTPUT = 'containerInstances';

/**
 * Provider cloudflare: the instance type and max instances live in the Worker's `containers`
 * entry, so scaling is a redeploy (wrangler PATCHes the application and rolls it out). The
 * Worker's secrets stay as they are.
 */
async function redeployContainer(provider: Provider, ctx: ProviderContext, journal: Journal, credentials: ProviderCredentials, s: Session): Promise<VmStatus> {
  const container = provider.workerContainer!(ctx, journal);
  const values = credentials.kind === 'static' ? credentials.values : {};
  if (!values.accountId || !values.apiToken) throw usageError('scaling the container needs the Cloudflare account', 'set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID');
  const deployer = new WorkerDeployer({ accountId: values.accountId, apiToken: values.apiToken }, s.env, (m) => s.reporter.debug(m));
  await deployer.deploy({ deployment: ctx.spec.name, container });
  return provider.status(ctx, journal);
}

/** stop / start / scale: one locked, journaled operation, then (for start/scale) wait for health. */
export async function changePower(
  state: DeploymentState,
  credentials: ProviderCredentials,
  s: Session,
  op: { kind: 'stop'; hold?: boolean } | { kind: 'start' } | { kind: 'resize'; size: SizeName } | { kind: 'instances'; count: number },
): Promise<{ vm: VmStatus; health?: WorkerHealth }> {
  const spec = specOf(state);
  const store = stateStore(s.env);
  return withDeploymentLock(deploymentsDir(s.env), state.name, op.kind, async () => {
    const fresh = (await store.read(state.name)) ?? state;
    const journal = new Journal(store, fresh);
    const provider = await loadProvider(spec.provider);
    const ctx = providerContext(spec, credentials, s);
    let vm: VmStatus;
    if (op.kind === 'instances') {
      if (!provider.workerContainer) throw usageError(`scale --instances applies to --provider cloudflare (a ${spec.provider.toUpperCase()} deployment is one VM)`, 'use scale --size to change the VM');
      s.reporter.step(`scaling the Crawl4AI container to at most ${op.count} instance(s) (a Worker redeploy)`);
      await journal.update({ outputs: { ...journal.state.outputs, [INSTANCES_OUTPUT]: op.count } });
      return { vm: await redeployContainer(provider, ctx, journal, credentials, s) };
    }
    if (op.kind === 'stop') {
      if (op.hold) {
        if (!provider.setWakeHold) {
          const wakes = provider.issueWakeCredential !== undefined;
          throw usageError(
            `stop --hold is not available for ${spec.provider} deployments yet`,
            wakes ? 'run crawl4ai-mcp stop (the next tool call will start the VM again)' : 'run crawl4ai-mcp stop: a stopped VM here already waits for crawl4ai-mcp start',
          );
        }
        s.reporter.step('holding the VM: tool calls will not wake it until crawl4ai-mcp start');
        await provider.setWakeHold(ctx, journal, true);
      }
      s.reporter.step(provider.workerContainer ? 'stopping the Crawl4AI container now (max instances 0; you then pay only the Workers plan)' : 'stopping the VM (you then pay only for its disk and address)');
      vm = await provider.stop(ctx, journal);
      await journal.update({ status: 'stopped', outputs: powerHistory(journal.state, false) });
      return { vm };
    }
    if (op.kind === 'resize' && provider.workerContainer) {
      s.reporter.step(`changing the container to ${op.size} (${SIZES[spec.provider][op.size].instanceType}): a Worker redeploy and rollout`);
      const resized = providerContext({ ...spec, size: op.size }, credentials, s);
      vm = await redeployContainer(provider, resized, journal, credentials, s);
      await journal.update({ size: op.size });
    } else if (op.kind === 'resize') {
      s.reporter.step(`resizing to ${op.size} (${SIZES[spec.provider][op.size].instanceType}): stop, change type, start`);
      await journal.update({ outputs: powerHistory(journal.state, false) }); // resize stops the VM first
      vm = await provider.resize(ctx, journal, op.size);
      await journal.update({ size: op.size, outputs: powerHistory(journal.state, true) });
    } else {
      s.reporter.step(provider.workerContainer ? 'allowing the Crawl4AI container to run again' : 'starting the VM');
      await provider.setWakeHold?.(ctx, journal, false); // a VM stopped with --hold wakes on request again
      vm = await provider.start(ctx, journal);
      await journal.update({ outputs: powerHistory(journal.state, true) });
    }
    const health = await healthyAgain(fresh, journal, s);
    return { vm, ...(health ? { health } : {}) };
  });
}

/**
 * After a power change (start, resize, a restart for new settings): wait until Crawl4AI answers
 * through the Worker, then mark the deployment ready. No Worker yet (an init cut short): no wait.
 */
export async function healthyAgain(state: DeploymentState, journal: Journal, s: Session): Promise<WorkerHealth | undefined> {
  const apiKey = await s.secrets.get(deploymentSecret(state.name, 'mcp-api-key'));
  let health: WorkerHealth | undefined;
  if (state.worker && apiKey) {
    s.reporter.step('waiting for Crawl4AI to answer through the Worker');
    health = await waitHealthyThroughWorker(state.worker.url, apiKey, { timeoutMs: s.healthTimeoutMs, intervalMs: s.healthIntervalMs });
  }
  await journal.update({ status: 'ready' });
  return health;
}

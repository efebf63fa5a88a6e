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


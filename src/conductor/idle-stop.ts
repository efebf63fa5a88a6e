import { deploymentsDir } from '../ground/paths.js';
import { usageError } from '../ground/errors.js';
import type { ProviderCredentials, VmStatus } from '../model/deployment.js';
import { describeIdleStop } from '../bootstrap/idle-stop.js';
import { Journal } from '../state/journal.js';
import { withDeploymentLock } from '../state/lock.js';
import type { DeploymentState } from '../state/schema.js';
import { loadProvider } from './providers.js';
import { powerHistory } from './power-history.js';
import { providerContext, specOf, stateStore, type Session } from './session.js';
import { healthyAgain } from './lifecycle.js';
import type { WorkerHealth } from './worker-health.js';

/**
 * `scale --idle-stop`: the VM gets the new minutes through its secret-free user data (a bootcmd)
 * and is restarted so they apply now; then wait until Crawl4AI answers through the Worker again.
 */
export async function changeIdleStop(
  state: DeploymentState,
  credentials: ProviderCredentials,
  s: Session,
  minutes: number,
): Promise<{ vm: VmStatus; idleStopMinutes: number; health?: WorkerHealth }> {
  const spec = specOf(state);
  const provider = await loadProvider(spec.provider);
  if (!provider.setIdleStop) {
    throw usageError(`scale --idle-stop is not available on ${spec.provider} yet`, 'it is set at init; on AWS it can be changed later');
  }
  const store = stateStore(s.env);
  return withDeploymentLock(deploymentsDir(s.env), state.name, 'scale', async () => {
    const fresh = (await store.read(state.name)) ?? state;
    const journal = new Journal(store, fresh);
    const ctx = providerContext({ ...spec, idleStopMinutes: minutes }, credentials, s);
    s.reporter.step(`setting idle auto-stop to ${describeIdleStop(minutes)}: stop, update the VM's settings, start`);
    await journal.update({ outputs: powerHistory(journal.state, false) });
    const vm = await provider.setIdleStop!(ctx, journal, minutes);
    await journal.update({ outputs: { ...powerHistory(journal.state, true), idleStopMinutes: minutes } });
    const health = await healthyAgain(fresh, journal, s);
    return { vm, idleStopMinutes: minutes, ...(health ? { health } : {}) };
  });
}

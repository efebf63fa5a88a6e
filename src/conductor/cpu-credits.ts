import { deploymentsDir } from '../ground/paths.js';
import { usageError } from '../ground/errors.js';
import type { CpuCredits, ProviderCredentials, VmStatus } from '../model/deployment.js';
import { cpuCreditCost } from '../pricing/estimate.js';
import { Journal } from '../state/journal.js';
import { withDeploymentLock } from '../state/lock.js';
import type { DeploymentState } from '../state/schema.js';
import { loadProvider } from './providers.js';
import { providerContext, specOf, stateStore, type Session } from './session.js';

/**
 * `scale --cpu-credits`: changes the AWS T3 credit option in place (no stop, no restart), under the
 * deployment lock. Returns the VM as the cloud reports it afterwards and what unlimited can cost.
 */
export async function changeCpuCredits(
  state: DeploymentState,
  credentials: ProviderCredentials,
  s: Session,
  mode: CpuCredits,
): Promise<{ vm: VmStatus; worstCaseMonthlyUsd?: number }> {
  const spec = specOf(state);
  const provider = await loadProvider(spec.provider);
  if (!provider.setCpuCredits) {
    throw usageError(`--cpu-credits applies to AWS only`, `this deployment runs on ${spec.provider}, whose bursts are never billed extra`);
  }
  const store = stateStore(s.env);
  return withDeploymentLock(deploymentsDir(s.env), state.name, 'scale', async () => {
    const journal = new Journal(store, (await store.read(state.name)) ?? state);
    const ctx = providerContext({ ...spec, cpuCredits: mode }, credentials, s);
    s.reporter.step(`setting CPU credits to ${mode} (takes effect at once; the VM keeps running)`);
    const vm = await provider.setCpuCredits!(ctx, journal, mode);
    await journal.update({ outputs: { ...journal.state.outputs, cpuCredits: vm.cpuCredits ?? mode } });
    const cost = cpuCreditCost({ provider: spec.provider, size: spec.size, cpuCredits: mode });
    return { vm, ...(cost ? { worstCaseMonthlyUsd: cost.worstCaseMonthlyUsd } : {}) };
  });
}

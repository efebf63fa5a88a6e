import { credentialsError } from '../ground/errors.js';
import { deploymentsDir } from '../ground/paths.js';
import type { DeploymentSpec, ProviderCredentials } from '../model/deployment.js';
import { Journal } from '../state/journal.js';
import { withDeploymentLock } from '../state/lock.js';
import { newDeploymentState } from '../state/schema.js';
import { deploymentPrefix } from '../secrets/keys.js';
import { WorkerDeployer, workerScriptName } from '../cloudflare/worker-deployer.js';
import type { CloudflareAccount } from '../cloudflare/wrangler.js';
import { CloudflareApi } from '../cloudflare/api.js';
import { destroyTunnelResources } from '../cloudflare/tunnel.js';
import { loadProvider } from './providers.js';
import { providerContext, stateStore, WORKER_KEY, type Session } from './session.js';

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

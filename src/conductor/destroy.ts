import { CliError, credentialsError, ExitCode, isCliError } from '../ground/errors.js';
import { deploymentsDir } from '../ground/paths.js';
import type { DeploymentSpec, ProviderCredentials } from '../model/deployment.js';
import { Journal } from '../state/journal.js';
import { withDeploymentLock } from '../state/lock.js';
import { newDeploymentState } from '../state/schema.js';
import { deploymentPrefix } from '../secrets/keys.js';
import { WorkerDeployer, workerScriptName } from '../cloudflare/worker-deployer.js';
import type { CloudflareAccount } from '../cloudflare/wrangler.js';
import { CloudflareApi } from '../cloudflare/api.js';
import { destroyTunnelResources, TUNNEL_JOURNAL_KEY, tunnelResourceName } from '../cloudflare/tunnel.js';
import { loadProvider } from './providers.js';
import { providerContext, stateStore, WORKER_KEY, type Session } from './session.js';

/** One resource (or group of resources) destroy could not remove, and why. */
export interface LeftBehind {
  what: string;
  error: unknown;
}

/**
 * Removes everything the deployment owns: the VM and its network pieces (from the journal and by
 * tag, so a lost state file still cleans up), the Worker, the tunnel and its VPC service, the
 * deployment's secrets and the state file. Every part is tried even when an earlier one fails
 * (each client retries its transient errors first); what failed is reported together at the end.
 * The state file and secrets are kept while anything is left, so running destroy again finishes.
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
    const left: LeftBehind[] = [];
    const attempt = async (what: () => string, fn: () => Promise<void>): Promise<boolean> => {
      try {
        await fn();
        return true;
      } catch (error) {
        left.push({ what: what(), error });
        s.reporter.step(`could not remove ${what()}: ${messageOf(error)}; going on with the rest`);
        return false;
      }
    };
    const hadState = state.resources.length > 0 || Boolean(state.provider);
    if (hadState) await journal.update({ status: 'destroying' });

    const cloud = target.spec.provider.toUpperCase();
    s.reporter.step(`deleting cloud resources on ${cloud} (${target.spec.region})`);
    await attempt(
      () => cloudLeftovers(journal, `${cloud} resources`),
      async () => {
        const provider = await loadProvider(target.spec.provider);
        await provider.destroy(providerContext(target.spec, target.credentials, s), journal);
        removed.push(`${target.spec.provider} resources`);
      },
    );

    if (target.cloudflare) {
      const account = target.cloudflare;
      const script = workerScriptName(name);
      s.reporter.step(`deleting the Worker ${script}`);
      await attempt(
        () => `worker ${script}`,
        async () => {
          const deployer = new WorkerDeployer(account, s.env, (m) => s.reporter.debug(m));
          if (await deployer.delete(name)) removed.push(`worker ${script}`);
          if (journal.find(WORKER_KEY)) await journal.deleted(WORKER_KEY);
        },
      );
      // After the Worker, so no deployed binding still points at the VPC service (tried even when
      // the Worker delete failed: leaving the tunnel too would only leave more); found by name
      // too, so a lost state file still cleans up.
      s.reporter.step('deleting the Cloudflare Tunnel and its VPC service');
      await attempt(
        () => `Cloudflare Tunnel and VPC service ${tunnelResourceName(name)}`,
        async () => {
          const gone = await destroyTunnelResources(new CloudflareApi(account, { env: s.env, log: (m) => s.reporter.debug(m) }), journal, name, {
            log: (m) => s.reporter.debug(m),
          });
          if (gone.tunnels.length) removed.push(`tunnel ${gone.tunnels.join(', ')}`);
          if (gone.vpcServices.length) removed.push(`VPC service ${gone.vpcServices.join(', ')}`);
        },
      );
    } else if (state.worker || journal.find(TUNNEL_JOURNAL_KEY)?.phase === 'created') {
      left.push({
        what: `the Worker ${workerScriptName(name)} and any Cloudflare Tunnel`,
        error: credentialsError('no Cloudflare credentials to delete them', 'set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID, then run destroy again'),
      });
    }

    if (left.length > 0) {
      await journal.update({ status: 'destroying' });
      throw unfinished(name, removed, left);
    }
    const n = await s.secrets.deleteAll(deploymentPrefix(name));
    if (n) removed.push(`${n} secret-store entries`);
    await store.remove(name);
    return { removed };
  });
}

/** The cloud records the journal still holds (not deleted), e.g. "aws:instance i-0ab…". */
function cloudLeftovers(journal: Journal, fallback: string): string {
  const live = journal.live().filter((r) => !r.kind.startsWith('cloudflare:'));
  return live.length ? live.map((r) => `${r.kind} ${r.id ?? '(being created)'}`).join(', ') : fallback;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * One error for an unfinished destroy: what is gone, what is left and why, and how to finish.
 * Exit 3 when every leftover is a credentials problem (fix the token, then rerun), else 1.
 */
function unfinished(name: string, removed: string[], left: LeftBehind[]): CliError {
  const gone = removed.length ? `removed ${removed.join(', ')}; ` : '';
  const reasons = left.map((l) => `${l.what} (${messageOf(l.error)})`).join('; ');
  const allCredentials = left.every((l) => isCliError(l.error) && l.error.exitCode === ExitCode.credentials);
  const hints = [...new Set(left.map((l) => (isCliError(l.error) ? l.error.hint : undefined)).filter((h): h is string => Boolean(h)))];
  return new CliError(`destroy did not finish: ${gone}left behind: ${reasons}`, {
    exitCode: allCredentials ? ExitCode.credentials : ExitCode.failed,
    hint: `${hints.length && allCredentials ? `${hints[0]}; ` : ''}run \`crawl4ai-mcp destroy --name ${name}\` again to remove what is left (the state file keeps track of it)`,
  });
}

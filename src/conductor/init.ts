import { randomBytes } from 'node:crypto';
import { CliError, ExitCode, credentialsError, usageError } from '../ground/errors.js';
import { deploymentsDir } from '../ground/paths.js';
import { generateApiKey, hashApiKey } from '../ground/api-key.js';
import type { DeploymentSpec, Plan, ProviderCredentials, VmStatus } from '../model/deployment.js';
import { renderCloudInit, hostnameForIp, CRAWL4AI_IMAGE, memoryLimitFor } from '../bootstrap/cloud-init.js';
import { idleStopActionFor } from '../bootstrap/idle-stop.js';
import { SIZES } from '../pricing/catalog.js';
import { Journal } from '../state/journal.js';
import { withDeploymentLock } from '../state/lock.js';
import { newDeploymentState, type DeploymentState } from '../state/schema.js';
import { deploymentSecret } from '../secrets/keys.js';
import type { SecretStore } from '../secrets/store.js';
import { WorkerDeployer, workerScriptName } from '../cloudflare/worker-deployer.js';
import { costEstimateVar } from '../model/cost-estimate.js';
import type { CloudflareAccount } from '../cloudflare/wrangler.js';
import { CloudflareApi } from '../cloudflare/api.js';
import { checkTokenPermissions, ensureTunnel, ensureVpcService } from '../cloudflare/tunnel.js';
import { loadProvider } from './providers.js';
import { powerHistory } from './power-history.js';
import { providerContext, stateStore, WORKER_KEY, type PublicNetworkOptions, type Session } from './session.js';
import { waitHealthyThroughWorker, type WorkerHealth } from './worker-health.js';

/**
 * `init`: plan -> apply -> deploy the Worker -> wait until Crawl4AI answers through it. Shared by
 * every provider: providers only talk to their cloud; secrets, the Cloudflare side, journaling and
 * waiting live here, once.
 */

async function ensureSecret(store: SecretStore, account: string, make: () => string): Promise<string> {
  const existing = await store.get(account);
  if (existing) return existing;
  const v = make();
  await store.set(account, v);
  return v;
}

/** The wake credential's issue, letting a Worker deploy in flight finish (and be journaled) before an error ends the run. */
async function issueWake<T>(issue: Promise<T>, workerDeploy: () => Promise<unknown> | undefined): Promise<T> {
  try {
    return await issue;
  } catch (e) {
    await workerDeploy()?.catch(() => undefined);
    throw e;
  }
}

/** Where the state's outputs record the user-data scrub: 'started', then 'done'. */
const SCRUB_OUTPUT = 'bootstrapScrub';

export interface InitResult {
  state: DeploymentState;
  plan: Plan;
  vm: VmStatus;
  health: WorkerHealth;
}

/**
 * A resumed `init` must ask for what the first run began: its journaled resources live in that
 * provider, region and network mode, and a run elsewhere would lose sight of them (exit 2).
 */
export function refuseForeignResume(existing: DeploymentState | null, spec: DeploymentSpec): void {
  if (!existing) return;
  if (existing.status === 'ready') {
    throw usageError(`deployment "${spec.name}" already exists`, `see \`crawl4ai-mcp status --name ${spec.name}\`, or pick another --name`);
  }
  if (existing.provider && existing.provider !== spec.provider) {
    throw usageError(`deployment "${spec.name}" was started on ${existing.provider}`, `resume it with --provider ${existing.provider}, or destroy it first`);
  }
  const began = { region: existing.region, network: existing.network };
  if ((began.region && began.region !== spec.region) || (began.network && began.network !== spec.network)) {
    throw usageError(
      `deployment "${spec.name}" was started in ${began.region ?? spec.region} with the ${began.network ?? spec.network} network; this run asks for ${spec.region} with the ${spec.network} network`,
      `resume it with --region ${began.region ?? spec.region} --network ${began.network ?? spec.network}, or remove what it made with \`crawl4ai-mcp destroy --name ${spec.name}\` first`,
    );
  }
}

/** Refuses a resume that does not match the first run, before any cloud call or question. */
export async function checkResumable(spec: DeploymentSpec, env: NodeJS.ProcessEnv): Promise<void> {
  refuseForeignResume(await stateStore(env).read(spec.name), spec);
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
    refuseForeignResume(existing, spec);
    const journal = new Journal(store, existing ?? newDeploymentState(spec.name));
    const ctx = providerContext(spec, credentials, s);
    const provider = await loadProvider(spec.provider);

    s.reporter.step('checking cloud credentials');
    const v = await provider.validateCredentials(ctx);
    if (v.missing.length) {
      throw credentialsError(
        `the ${spec.provider.toUpperCase()} credentials lack ${v.missing.join(', ')}`,
        `grant the policy in ${provider.policyFile} to ${v.identity}`,
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
    // No read-only call proves Connectivity Directory Bind; say so instead of failing later in silence.
    if (perms.unchecked.length) s.reporter.step(`could not check the token for ${perms.unchecked.join(', ')} (it may not read its own permissions); deploying fails with code 10000 without it`);
    const plan = await provider.plan(ctx);

    // Secrets first: if anything later fails, nothing created depends on a lost value.
    const crawl4aiToken = await ensureSecret(s.secrets, deploymentSecret(spec.name, 'crawl4ai-token'), () => randomBytes(32).toString('hex'));
    const apiKey = await ensureSecret(s.secrets, deploymentSecret(spec.name, 'mcp-api-key'), generateApiKey);
    // the admin API's key (`keys`, `dashboard`): never an MCP key; the Worker holds only its hash
    const adminKey = await ensureSecret(s.secrets, deploymentSecret(spec.name, 'admin-key'), generateApiKey);

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

    // provider cloudflare: Crawl4AI runs as a Container the Worker's deploy carries; no VM, no bootstrap
    const container = provider.workerContainer?.(ctx, journal);
    // The Worker needs only its origin: the tunnel's VPC service, or the VM's hostname, which is
    // known once the provider holds the address, before it launches the VM. So the Worker deploys
    // (seconds) while the VM launches and boots (minutes): init's critical path is the longer
    // chain, not the sum. CRAWL4AI_MCP_INIT_SERIAL=1 deploys it after the VM, as before.
    const deployer = new WorkerDeployer(cloudflare, s.env, (m) => s.reporter.debug(m));
    const scriptName = workerScriptName(spec.name);
    let workerDeploy: Promise<{ url: string }> | undefined;
    // wake on request: the credential exists only after the VM does; a deploy that starts later
    // (serial, or a resume) carries it, else a second secret push follows the deploy
    let wakeSecrets: Record<string, string> | undefined;
    const wakeVars = container ? undefined : provider.wakeVars?.(ctx);
    const deployWorker = (hostname: string | undefined): Promise<{ url: string }> =>
      (workerDeploy ??= (async () => {
        if (journal.find(WORKER_KEY)?.phase !== 'created') await journal.intend(WORKER_KEY, WORKER_KEY);
        s.reporter.step(container ? `deploying the Worker ${scriptName} with its Crawl4AI Container (${container.instanceType})` : `deploying the Worker ${scriptName}`);
        const worker = await deployer.deploy({
          deployment: spec.name,
          ...(tunnel ? { vpcServiceId: tunnel.serviceId } : container ? { container } : { originUrl: `https://${hostname}` }),
          secrets: { CRAWL4AI_API_TOKEN: crawl4aiToken, BOOTSTRAP_KEY_SHA256: await hashApiKey(apiKey), ADMIN_KEY_SHA256: await hashApiKey(adminKey), ...wakeSecrets },
          vars: { COST_ESTIMATE: costEstimateVar(plan), ...wakeVars }, // the dashboard's cost estimate; which VM to wake
        });
        await journal.created(WORKER_KEY, scriptName, { url: worker.url }); // merges into a record created by an earlier run
        // The account id lives in the secret store with the token (it names where the token works), not here.
        await journal.update({ worker: { scriptName, url: worker.url } });
        return worker;
      })());
    const overlap = s.env.CRAWL4AI_MCP_INIT_SERIAL !== '1';

    const memoryGiB = SIZES[spec.provider][spec.size].memoryGiB;
    const cloudHostname = spec.network === 'public' && !network.hostname ? provider.publicHostname?.(ctx) : undefined;
    let bootHostname: string | undefined;
    const bootstrapFor = (addr: { publicIp?: string }) => {
      const hostname = network.hostname ?? cloudHostname ?? (addr.publicIp ? hostnameForIp(addr.publicIp, network.wildcardDomain) : undefined);
      if (spec.network === 'public' && !hostname) throw new CliError('public mode needs the VM address before boot', { exitCode: ExitCode.failed });
      bootHostname = hostname;
      // started here, awaited after apply; a failure is reported there, once both chains stopped
      if (overlap) deployWorker(spec.network === 'public' ? hostname : undefined).catch(() => undefined);
      return {
        userData: renderCloudInit({
          deployment: spec.name,
          network: spec.network === 'public' ? 'public' : 'tunnel',
          crawl4aiImage: CRAWL4AI_IMAGE,
          crawl4aiToken,
          memoryLimit: memoryLimitFor(memoryGiB),
          memoryGiB,
          ...(spec.network === 'public' && hostname ? { hostname } : {}),
          ...(spec.network === 'public' && network.acmeEmail ? { acmeEmail: network.acmeEmail } : {}),
          ...(tunnel ? { tunnelToken: tunnel.token } : {}),
          idleStopMinutes: spec.idleStopMinutes ?? 0,
          idleStopAction: idleStopActionFor(spec.provider),
        }),
        inboundPorts: spec.network === 'public' ? [443] : [],
      };
    };

    let vm: VmStatus = { state: 'pending' };
    let pendingWakeSecrets: Record<string, string> | undefined;
    if (!container) {
      s.reporter.step(`creating the VM on ${spec.provider.toUpperCase()} (${plan.instanceType} in ${spec.region})`);
      try {
        vm = await provider.apply(ctx, journal, bootstrapFor);
      } catch (e) {
        // let a Worker deploy in flight finish and be journaled before the error ends the run
        await workerDeploy?.catch(() => undefined);
        throw e;
      }
    }
    const hostname =
      spec.network === 'public'
        ? (network.hostname ?? cloudHostname ?? bootHostname ?? (vm.publicIp ? hostnameForIp(vm.publicIp, network.wildcardDomain) : undefined))
        : undefined;
    if (!container && provider.issueWakeCredential) {
      // Azure's credential trusts the Worker's URL (its OIDC issuer): asking for it deploys the Worker now if it is not yet
      const wake = await issueWake(provider.issueWakeCredential(ctx, journal, { workerUrl: async () => (await deployWorker(hostname)).url }), () => workerDeploy);
      if (wake && workerDeploy) pendingWakeSecrets = wake.secrets;
      else wakeSecrets = wake?.secrets;
    }
    await journal.update({
      outputs: { ...powerHistory(journal.state, true), publicIp: vm.publicIp ?? null, hostname: hostname ?? null, idleStopMinutes: spec.idleStopMinutes ?? 0 },
    });
    const worker = await deployWorker(hostname);
    if (pendingWakeSecrets) {
      s.reporter.debug('giving the Worker its wake credential');
      await deployer.putSecrets(spec.name, pendingWakeSecrets);
    }
    // the container application is wrangler's work: record it now (destroy deletes it; wrangler delete does not)
    if (container) vm = await provider.apply(ctx, journal, bootstrapFor);

    const waitHealthy = (what: string) => {
      s.reporter.step(what);
      return waitHealthyThroughWorker(worker.url, apiKey, {
        timeoutMs: s.healthTimeoutMs,
        intervalMs: s.healthIntervalMs,
        onWait: (h) => s.reporter.debug(`not healthy yet: ${h.origin.error ?? h.worker.error ?? ''}`),
      });
    };
    // The user data carries the secrets. Once the VM answered healthy it has written them to its own
    // 0600 files, so clear them from the cloud (stop, replace, start): afterwards no instance
    // attribute or metadata read reveals them. Journaled, so a resumed init finishes a cut-off scrub.
    const scrub = journal.state.outputs[SCRUB_OUTPUT];
    if (scrub !== 'done' && !container) {
      if (scrub !== 'started') await waitHealthy('waiting for Crawl4AI to answer through the Worker (the VM is booting)');
      await journal.update({ outputs: { ...journal.state.outputs, [SCRUB_OUTPUT]: 'started' } });
      s.reporter.step("clearing the secrets from the VM's user data (a restart, about a minute)");
      await provider.scrubBootstrap(ctx, journal);
      await journal.update({ outputs: { ...journal.state.outputs, [SCRUB_OUTPUT]: 'done' } });
    }
    const health = await waitHealthy(container ? `waiting for Crawl4AI to answer through the Worker (the container's first start pulls the image: about ${container.coldStartSeconds} s or more)` : 'waiting for Crawl4AI to answer through the Worker again');
    await journal.update({ status: 'ready', outputs: { ...journal.state.outputs, crawl4aiVersion: health.origin.version ?? null } });
    return { state: journal.state, plan, vm, health };
  });
}


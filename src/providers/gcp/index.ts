import { capacityError, ExitCode, isCliError, notFoundError } from '../../ground/errors.js';
import { rememberVm } from '../journal-steps.js';
import type { SizeName, VmStatus } from '../../model/deployment.js';
import type { Journal } from '../../state/journal.js';
import type { Provider, ProviderContext } from '../provider.js';
import { readSerialPort, runningImage } from './console.js';
import { applyDeployment } from './apply.js';
import { createGcpClients, type GcpClients } from './clients.js';
import { destroyDeployment } from './destroy.js';
import { discoverResources } from './discover.js';
import { SCRUBBED_USER_DATA } from '../../bootstrap/cloud-init.js';
import { restartWithIdleStop } from '../idle-stop-steps.js';
import { getInstance, setHoldLabel, setMachineType, setUserData, startInstance, stopInstance, toVmStatus, type InstanceRef } from './instance.js';
import { checkResourceName, lastSegment, splitInstanceId } from './names.js';
import { GCP_POLICY_FILE } from './permissions.js';
import { planDeployment } from './plan.js';
import { GCP_RESOURCE } from './resources.js';
import { gcpMachineTypes, machineTypeOf, otherSizes } from './sizes.js';
import { validateGcpCredentials } from './validate.js';
import { gcpWakeVars, issueGcpWakeCredential } from './wake.js';

/**
 * The GCP provider: one Compute Engine instance (Ubuntu 24.04 LTS, Shielded VM, no service
 * account) on the project's default network, firewall rules targeted at its network tag, and in
 * public mode a static external address. Loaded lazily by the conductor, and it loads only the
 * Compute clients it uses, so nothing of the GCP SDK is loaded for other clouds or for --help.
 */
export function createGcpProvider(): Provider {
  return {
    name: 'gcp',
    get sizes() {
      return gcpMachineTypes();
    },
    defaultRegion: 'us-central1',
    policyFile: GCP_POLICY_FILE,

    validateCredentials: (ctx) => withGcp(ctx, (gcp) => validateGcpCredentials(gcp, ctx)),
    plan: (ctx) => withGcp(ctx, (gcp) => planDeployment(gcp, ctx)),
    apply: (ctx, journal, bootstrap) =>
      withGcp(ctx, (gcp) => applyDeployment(gcp, ctx, journal, bootstrap, { machineType: machineTypeOf(ctx.spec.size), otherSizes: otherSizes(ctx.spec.size) })),

    status: (ctx, journal) =>
      withGcp(ctx, async (gcp) => {
        const ref = await findInstance(gcp, ctx, journal);
        if (!ref) return { state: 'missing' };
        const vm = toVmStatus(await getInstance(gcp, ref));
        // the image the VM prints to its serial console at each start of Crawl4AI
        return vm.state === 'running' ? { ...vm, image: await runningImage(gcp, ref) } : vm;
      }),

    stop: (ctx, journal) =>
      withGcp(ctx, async (gcp) => {
        const ref = await requireInstance(gcp, ctx, journal);
        ctx.progress(`stopping instance ${ref.name} in ${ref.zone}`);
        return remember(journal, toVmStatus(await stopInstance(gcp, ref)));
      }),

    start: (ctx, journal) =>
      withGcp(ctx, async (gcp) => {
        const ref = await requireInstance(gcp, ctx, journal);
        ctx.progress(`starting instance ${ref.name} in ${ref.zone}`);
        return remember(journal, toVmStatus(await startInstance(gcp, ref, otherSizes(ctx.spec.size))));
      }),

    resize: (ctx, journal, size) => withGcp(ctx, (gcp) => resizeInstance(gcp, ctx, journal, size)),

    // wake on request: the Worker starts the stopped VM with a key that may start this instance only
    wakeVars: () => gcpWakeVars(),
    issueWakeCredential: (ctx, journal) => withGcp(ctx, async (gcp) => issueGcpWakeCredential(gcp, ctx, journal, await requireInstance(gcp, ctx, journal))),
    setWakeHold: (ctx, journal, hold) => withGcp(ctx, async (gcp) => void (await setHoldLabel(gcp, await requireInstance(gcp, ctx, journal), hold))),

    destroy: (ctx, journal) => withGcp(ctx, (gcp) => destroyDeployment(gcp, ctx, journal)),

    discover: (ctx) => withGcp(ctx, (gcp) => discoverResources(gcp, ctx.spec.name)),

    consoleOutput: (ctx, journal, start) => withGcp(ctx, async (gcp) => readSerialPort(gcp, await requireInstance(gcp, ctx, journal), start)),

    scrubBootstrap: (ctx, journal) =>
      withGcp(ctx, async (gcp) => {
        const ref = await requireInstance(gcp, ctx, journal);
        // Compute changes metadata while the VM runs: no stop/start needed
        if (await setUserData(gcp, ref, SCRUBBED_USER_DATA)) ctx.progress(`replaced the bootstrap (user-data) in the metadata of instance ${ref.name} with a secret-free one`);
        return toVmStatus(await getInstance(gcp, ref));
      }),

    // cloud-init runs the user data's bootcmd at each boot: stop, setMetadata (fingerprint + operation), start
    setIdleStop: (ctx, journal, minutes) =>
      withGcp(ctx, async (gcp) => {
        const ref = await requireInstance(gcp, ctx, journal);
        return restartWithIdleStop(ctx, minutes, `instance ${ref.name} in ${ref.zone}`, {
          stop: () => stopInstance(gcp, ref),
          setUserData: (userData) => setUserData(gcp, ref, userData),
          start: async () => remember(journal, toVmStatus(await startInstance(gcp, ref, otherSizes(ctx.spec.size)))),
        });
      }),
  };
}

/** Runs `fn` with fresh clients and closes them afterwards, so the CLI can exit promptly. */
async function withGcp<T>(ctx: ProviderContext, fn: (gcp: GcpClients) => Promise<T>): Promise<T> {
  checkResourceName(ctx.spec.name);
  const gcp = await createGcpClients(ctx);
  try {
    return await fn(gcp);
  } finally {
    await gcp.close();
  }
}

/** The journal's instance, else (state file lost) the one instance labelled for the deployment. */
async function findInstance(gcp: GcpClients, ctx: ProviderContext, journal: Journal): Promise<InstanceRef | undefined> {
  const rec = journal.find(GCP_RESOURCE.instance);
  if (rec?.phase === 'created' && rec.id) return splitInstanceId(rec.id);
  const found = (await discoverResources(gcp, ctx.spec.name)).filter((r) => r.kind === GCP_RESOURCE.instance);
  return found[0] ? splitInstanceId(found[0].id) : undefined;
}

async function requireInstance(gcp: GcpClients, ctx: ProviderContext, journal: Journal): Promise<InstanceRef> {
  const ref = await findInstance(gcp, ctx, journal);
  if (!ref) throw notFoundError(`deployment ${ctx.spec.name} has no Compute Engine instance in ${gcp.region}`, `create it with crawl4ai-mcp init --name ${ctx.spec.name}`);
  return ref;
}

/** Keeps the journal's facts about the VM current (shared step, gcp's word for its type). */
const remember = (journal: Journal, status: VmStatus): Promise<VmStatus> => rememberVm(journal, GCP_RESOURCE.instance, 'machineType', status);

/**
 * stop → setMachineType → start. If the zone has no capacity for the new type, the old type is
 * put back and the VM started again, so a failed scale leaves it as it was.
 */
async function resizeInstance(gcp: GcpClients, ctx: ProviderContext, journal: Journal, size: SizeName): Promise<VmStatus> {
  const ref = await requireInstance(gcp, ctx, journal);
  const target = machineTypeOf(size);
  const current = await getInstance(gcp, ref);
  const from = current?.machineType ? lastSegment(current.machineType) : undefined;
  if (from === target) {
    ctx.progress(`instance ${ref.name} is already ${target}`);
    return remember(journal, toVmStatus(await startInstance(gcp, ref)));
  }
  ctx.progress(`stopping instance ${ref.name} to change its machine type from ${from ?? '?'} to ${target}`);
  await stopInstance(gcp, ref);
  await setMachineType(gcp, ref, target);
  ctx.progress(`starting instance ${ref.name} as ${target}`);
  try {
    return await remember(journal, toVmStatus(await startInstance(gcp, ref, otherSizes(size))));
  } catch (e) {
    if (!isCliError(e) || e.exitCode !== ExitCode.capacity || !from) throw e;
    ctx.progress(`no capacity for ${target} in ${ref.zone}; putting instance ${ref.name} back to ${from}`);
    await setMachineType(gcp, ref, from);
    await remember(journal, toVmStatus(await startInstance(gcp, ref)));
    throw capacityError(`${e.message}; the VM is running again as ${from}`, e.hint, e);
  }
}

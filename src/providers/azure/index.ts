import { capacityError, ExitCode, isCliError, notFoundError } from '../../ground/errors.js';
import { rememberVm } from '../journal-steps.js';
import type { Journal } from '../../state/journal.js';
import type { SizeName, VmStatus } from '../../model/deployment.js';
import type { Provider, ProviderContext } from '../provider.js';
import { readBootLog, runningImage } from './console.js';
import { applyDeployment } from './apply.js';
import { createAzureClients, type AzureClients } from './clients.js';
import { destroyDeployment } from './destroy.js';
import { discoverResources } from './discover.js';
import { AZURE_RESOURCE, publicFqdn, resourceNames } from './names.js';
import { AZURE_POLICY_FILE } from './permissions.js';
import { planDeployment } from './plan.js';
import { azureVmSizes, otherSizes, vmSizeOf } from './sizes.js';
import { currentStatus } from './status.js';
import { validateAzureCredentials } from './validate.js';
import { deallocateVm, describeVm, idleStopUserData, setVmHold, setVmSize, setVmUserData, startVm } from './vm.js';
import { ensureSelfDeallocate } from './self-deallocate.js';
import { azureWakeVars, issueAzureWakeCredential } from './wake.js';

/**
 * The Azure provider: per deployment one resource group holding a virtual network, an NSG, a NIC,
 * an Ubuntu 24.04 LTS VM with its managed OS disk, and in public mode a static public IP. Loaded
 * lazily by the conductor, so the Azure SDK is only imported when Azure is used (this folder is
 * the only place that imports it).
 */
export function createAzureProvider(): Provider {
  return {
    name: 'azure',
    get sizes() {
      return azureVmSizes();
    },
    defaultRegion: 'eastus',
    policyFile: AZURE_POLICY_FILE,

    // the public IP's DNS label: a hostname of the user's own address, no wildcard DNS service needed
    publicHostname: (ctx) => {
      const subscriptionId = subscriptionOf(ctx);
      return subscriptionId ? publicFqdn(ctx.spec.name, subscriptionId, ctx.spec.region) : undefined;
    },

    validateCredentials: (ctx) => withAzure(ctx, (az) => validateAzureCredentials(az, ctx)),
    plan: (ctx) => withAzure(ctx, (az) => planDeployment(az, ctx)),
    apply: (ctx, journal, bootstrap) =>
      withAzure(ctx, (az) => applyDeployment(az, ctx, journal, bootstrap, { vmSize: vmSizeOf(ctx.spec.size), otherSizes: otherSizes(ctx.spec.size) })),

    // the image the VM prints to its serial console at each start of Crawl4AI (boot diagnostics)
    status: (ctx) => withAzure(ctx, async (az) => {
      const s = await currentStatus(az, ctx.spec);
      return s.state === 'running' ? { ...s, image: await runningImage(az, ctx.spec.name) } : s;
    }),

    consoleOutput: (ctx) =>
      withAzure(ctx, async (az) => {
        await requireVm(az, ctx);
        return readBootLog(az, ctx.spec.name);
      }),

    stop: (ctx, journal) =>
      withAzure(ctx, async (az) => {
        const name = await requireVm(az, ctx);
        ctx.progress(`deallocating virtual machine ${name} (stopped and deallocated: compute is no longer billed)`);
        await deallocateVm(az, ctx.spec.name);
        return remember(journal, await currentStatus(az, ctx.spec));
      }),

    start: (ctx, journal) =>
      withAzure(ctx, async (az) => {
        const name = await requireVm(az, ctx);
        ctx.progress(`starting virtual machine ${name}`);
        await startVm(az, ctx.spec.name, otherSizes(ctx.spec.size));
        return remember(journal, await currentStatus(az, ctx.spec));
      }),

    resize: (ctx, journal, size) => withAzure(ctx, (az) => resizeVm(az, ctx, journal, size)),

    setWakeHold: (ctx, _journal, hold) =>
      withAzure(ctx, async (az) => {
        await requireVm(az, ctx);
        await setVmHold(az, ctx.spec.name, hold);
      }),

    destroy: (ctx, journal) => withAzure(ctx, (az) => destroyDeployment(az, ctx, journal)),

    // wake on request: the Worker starts this VM through a managed identity that may do nothing else (wake.ts)
    wakeVars: (ctx) => azureWakeVars(ctx.spec.name, subscriptionOf(ctx)),
    issueWakeCredential: (ctx, journal, wake) => withAzure(ctx, (az) => issueAzureWakeCredential(az, ctx, journal, wake)),

    /**
     * No restart: cloud-init on Azure reads customData only, once, so the minutes live in the VM's
     * userData, which Azure changes while the VM runs and idle-stop.sh reads from IMDS each minute.
     * The role is ensured too when turning it on (a VM made with it off, or before it existed on Azure).
     */
    setIdleStop: (ctx, journal, minutes) =>
      withAzure(ctx, async (az) => {
        const name = await requireVm(az, ctx);
        const facts = await describeVm(az, ctx.spec.name);
        if (minutes > 0) await ensureSelfDeallocate(az, ctx, journal, facts!.vm);
        ctx.progress(`setting the idle auto-stop minutes in the user data of virtual machine ${name}; its watchdog reads them within a minute`);
        await setVmUserData(az, ctx.spec.name, idleStopUserData(minutes));
        if (facts!.power !== 'running') await startVm(az, ctx.spec.name, otherSizes(ctx.spec.size));
        return remember(journal, await currentStatus(az, ctx.spec));
      }),

    discover: (ctx) => withAzure(ctx, (az) => discoverResources(az, ctx.spec.name)),

    /**
     * Nothing to remove cloud-side: Azure keeps customData write-only. The VM API never returns it
     * (GET, even with $expand=userData, shows only userData, which this tool does not use), and
     * IMDS does not serve it either, so no one with read access to the subscription or a process
     * on the VM can fetch it from Azure. (On the VM, cloud-init's copies are root-only files.)
     */
    scrubBootstrap: async (ctx) => {
      ctx.debug('azure: customData is not readable through the Azure API or IMDS; nothing to scrub cloud-side');
      return withAzure(ctx, (az) => currentStatus(az, ctx.spec));
    },
  };
}

const subscriptionOf = (ctx: ProviderContext): string | undefined => (ctx.credentials.kind === 'static' ? ctx.credentials.values.subscriptionId : ctx.env.AZURE_SUBSCRIPTION_ID);

/** Runs `fn` with fresh clients (they hold no sockets open between commands). */
async function withAzure<T>(ctx: ProviderContext, fn: (az: AzureClients) => Promise<T>): Promise<T> {
  return fn(await createAzureClients(ctx));
}

async function requireVm(az: AzureClients, ctx: ProviderContext): Promise<string> {
  const n = resourceNames(ctx.spec.name);
  if (!(await describeVm(az, ctx.spec.name))) {
    throw notFoundError(`deployment ${ctx.spec.name} has no virtual machine ${n.vm} in resource group ${n.group}`, `create it with crawl4ai-mcp init --name ${ctx.spec.name} --provider azure`);
  }
  return n.vm;
}

/** Keeps the journal's facts about the VM current (shared step, azure's word for its type). */
const remember = (journal: Journal, status: VmStatus): Promise<VmStatus> => rememberVm(journal, AZURE_RESOURCE.vm, 'vmSize', status);

/**
 * deallocate -> change size -> start. If the new size has no capacity, the old size is put back
 * and the VM started again, so a failed scale leaves it as it was.
 */
async function resizeVm(az: AzureClients, ctx: ProviderContext, journal: Journal, size: SizeName): Promise<VmStatus> {
  const vmName = await requireVm(az, ctx);
  const target = vmSizeOf(size);
  const current = await describeVm(az, ctx.spec.name);
  const from = current?.vm.hardwareProfile?.vmSize;
  if (from === target) {
    ctx.progress(`virtual machine ${vmName} is already ${target}`);
    if (current?.power !== 'running') await startVm(az, ctx.spec.name);
    return remember(journal, await currentStatus(az, ctx.spec));
  }
  ctx.progress(`deallocating virtual machine ${vmName} to change its size from ${from ?? '?'} to ${target}`);
  await deallocateVm(az, ctx.spec.name);
  await setVmSize(az, ctx.spec.name, target);
  ctx.progress(`starting virtual machine ${vmName} as ${target}`);
  try {
    await startVm(az, ctx.spec.name, otherSizes(size));
    return await remember(journal, await currentStatus(az, ctx.spec));
  } catch (e) {
    if (!isCliError(e) || e.exitCode !== ExitCode.capacity || !from) throw e;
    ctx.progress(`no capacity for ${target}; putting virtual machine ${vmName} back to ${from}`);
    await setVmSize(az, ctx.spec.name, from);
    await startVm(az, ctx.spec.name);
    await remember(journal, await currentStatus(az, ctx.spec));
    throw capacityError(`${e.message}; the VM is running again as ${from}`, e.hint, e);
  }
}

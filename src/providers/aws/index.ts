import { setHold } from './hold.js';
import { capacityError, ExitCode, isCliError, notFoundError } from '../../ground/errors.js';
import { rememberVm } from '../journal-steps.js';
import { AWS_POLICY_FILE } from './permissions.js';
import type { Journal } from '../../state/journal.js';
import type { SizeName, VmStatus } from '../../model/deployment.js';
import type { Provider, ProviderContext } from '../provider.js';
import { applyDeployment } from './apply.js';
import { createAwsClients, type AwsClients } from './clients.js';
import { destroyDeployment } from './destroy.js';
import { discoverResources } from './discover.js';
import { SCRUBBED_USER_DATA } from '../../bootstrap/cloud-init.js';
import { restartWithIdleStop } from '../idle-stop-steps.js';
import { readConsole, runningImage } from './console.js';
import { describeInstance, setInstanceType, setUserData, startInstance, stopInstance, toVmStatus } from './instance.js';
import { planDeployment } from './plan.js';
import { readCpuCredits, writeCpuCredits } from './credits.js';
import { AWS_RESOURCE } from './resources.js';
import { awsInstanceTypes, instanceTypeOf, otherSizes } from './sizes.js';
import { validateAwsCredentials } from './validate.js';
import { issueWakeCredential } from './wake.js';
import { wakeVars } from './wake-credential.js';

/**
 * The AWS provider: one EC2 instance (Ubuntu 24.04 LTS) in the region's default VPC, its security
 * group, and in public mode an Elastic IP. Loaded lazily by the registry, so the AWS SDK is only
 * imported when AWS is used (this folder is the only place that imports it).
 */
export function createAwsProvider(): Provider {
  return {
    name: 'aws',
    get sizes() {
      return awsInstanceTypes();
    },
    defaultRegion: 'us-east-1',
    policyFile: AWS_POLICY_FILE,

    validateCredentials: (ctx) => withAws(ctx, (aws) => validateAwsCredentials(aws, ctx, instanceTypeOf(ctx.spec.size))),
    plan: (ctx) => withAws(ctx, (aws) => planDeployment(aws, ctx)),
    apply: (ctx, journal, bootstrap) =>
      withAws(ctx, (aws) =>
        applyDeployment(aws, ctx, journal, bootstrap, { instanceType: instanceTypeOf(ctx.spec.size), otherSizes: otherSizes(ctx.spec.size) }),
      ),

    status: (ctx, journal) =>
      withAws(ctx, async (aws) => {
        const id = await findInstanceId(aws, ctx, journal);
        if (!id) return { state: 'missing' };
        const vm = toVmStatus(await describeInstance(aws, id));
        const cpuCredits = vm.state === 'terminated' ? undefined : await readCpuCredits(aws, id);
        const withCredits = cpuCredits ? { ...vm, cpuCredits } : vm;
        return vm.state === 'running' ? { ...withCredits, image: await runningImage(aws, id) } : withCredits;
      }),

    setCpuCredits: (ctx, journal, mode) =>
      withAws(ctx, async (aws) => {
        const id = await requireInstanceId(aws, ctx, journal);
        ctx.progress(`setting the CPU credit option of instance ${id} to ${mode}`);
        await writeCpuCredits(aws, id, mode);
        const vm = toVmStatus(await describeInstance(aws, id));
        return { ...vm, cpuCredits: (await readCpuCredits(aws, id)) ?? mode };
      }),

    stop: (ctx, journal) =>
      withAws(ctx, async (aws) => {
        const id = await requireInstanceId(aws, ctx, journal);
        ctx.progress(`stopping instance ${id}`);
        return remember(journal, toVmStatus(await stopInstance(aws, id)));
      }),

    start: (ctx, journal) =>
      withAws(ctx, async (aws) => {
        const id = await requireInstanceId(aws, ctx, journal);
        ctx.progress(`starting instance ${id}`);
        return remember(journal, toVmStatus(await startInstance(aws, id, otherSizes(ctx.spec.size))));
      }),

    // EC2 changes user data only while the instance is stopped: stop, replace, start.
    scrubBootstrap: (ctx, journal) =>
      withAws(ctx, async (aws) => {
        const id = await requireInstanceId(aws, ctx, journal);
        ctx.progress(`stopping instance ${id} to clear the secrets from its user data`);
        await stopInstance(aws, id);
        await setUserData(aws, id, SCRUBBED_USER_DATA);
        ctx.progress(`starting instance ${id} with secret-free user data`);
        return remember(journal, toVmStatus(await startInstance(aws, id, otherSizes(ctx.spec.size))));
      }),

    // The same path as the scrub: EC2 changes user data only while the instance is stopped.
    setIdleStop: (ctx, journal, minutes) =>
      withAws(ctx, async (aws) => {
        const id = await requireInstanceId(aws, ctx, journal);
        return restartWithIdleStop(ctx, minutes, `instance ${id}`, {
          stop: () => stopInstance(aws, id),
          setUserData: (userData) => setUserData(aws, id, userData),
          start: async () => remember(journal, toVmStatus(await startInstance(aws, id, otherSizes(ctx.spec.size)))),
        });
      }),

    resize: (ctx, journal, size) => withAws(ctx, (aws) => resizeInstance(aws, ctx, journal, size)),

    wakeVars: (ctx) => wakeVars(ctx.spec.name, ctx.spec.region),
    issueWakeCredential: (ctx, journal) => withAws(ctx, (aws) => issueWakeCredential(aws, ctx, journal)),
    setWakeHold: (ctx, journal, hold) => withAws(ctx, async (aws) => setHold(aws, await requireInstanceId(aws, ctx, journal), hold)),

    destroy: (ctx, journal) => withAws(ctx, (aws) => destroyDeployment(aws, ctx, journal)),

    discover: (ctx) => withAws(ctx, (aws) => discoverResources(aws, ctx.spec.name)),

    consoleOutput: (ctx, journal) => withAws(ctx, async (aws) => readConsole(aws, await requireInstanceId(aws, ctx, journal))),
  };
}

/** Runs `fn` with fresh clients and closes their sockets afterwards, so the CLI can exit promptly. */
async function withAws<T>(ctx: ProviderContext, fn: (aws: AwsClients) => Promise<T>): Promise<T> {
  const aws = createAwsClients(ctx);
  try {
    return await fn(aws);
  } finally {
    aws.destroy();
  }
}

/** The journal's instance, else (state file lost) the one instance tagged for the deployment. */
async function findInstanceId(aws: AwsClients, ctx: ProviderContext, journal: Journal): Promise<string | undefined> {
  const rec = journal.find(AWS_RESOURCE.instance);
  if (rec?.phase === 'created' && rec.id) return rec.id;
  const found = (await discoverResources(aws, ctx.spec.name)).filter((r) => r.kind === AWS_RESOURCE.instance && r.state !== 'shutting-down');
  return found[0]?.id;
}

async function requireInstanceId(aws: AwsClients, ctx: ProviderContext, journal: Journal): Promise<string> {
  const id = await findInstanceId(aws, ctx, journal);
  if (!id) {
    throw notFoundError(`deployment ${ctx.spec.name} has no EC2 instance in ${aws.region}`, `create it with crawl4ai-mcp init --name ${ctx.spec.name}`);
  }
  return id;
}

/** Keeps the journal's facts about the VM current (shared step, aws's word for its type). */
const remember = (journal: Journal, status: VmStatus): Promise<VmStatus> => rememberVm(journal, AWS_RESOURCE.instance, 'instanceType', status);

/**
 * stop → wait stopped → change type → start → wait running. If the new type has no capacity,
 * the old type is put back and the VM started again, so a failed scale leaves it as it was.
 */
async function resizeInstance(aws: AwsClients, ctx: ProviderContext, journal: Journal, size: SizeName): Promise<VmStatus> {
  const id = await requireInstanceId(aws, ctx, journal);
  const target = instanceTypeOf(size);
  const current = await describeInstance(aws, id);
  const fromType = current?.InstanceType;
  if (fromType === target) {
    ctx.progress(`instance ${id} is already ${target}`);
    return remember(journal, toVmStatus(current?.State?.Name === 'running' ? current : await startInstance(aws, id)));
  }
  ctx.progress(`stopping instance ${id} to change its type from ${fromType ?? '?'} to ${target}`);
  await stopInstance(aws, id);
  await setInstanceType(aws, id, target);
  ctx.progress(`starting instance ${id} as ${target}`);
  try {
    return await remember(journal, toVmStatus(await startInstance(aws, id, otherSizes(size))));
  } catch (e) {
    if (!isCliError(e) || e.exitCode !== ExitCode.capacity || !fromType) throw e;
    ctx.progress(`no capacity for ${target}; putting instance ${id} back to ${fromType}`);
    await setInstanceType(aws, id, fromType);
    await remember(journal, toVmStatus(await startInstance(aws, id)));
    throw capacityError(`${e.message}; the VM is running again as ${fromType}`, e.hint, e);
  }
}

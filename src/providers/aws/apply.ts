import { capacityError } from '../../ground/errors.js';
import { refuseAfterInterruptedDestroy, stillThere as journaledStillThere } from '../journal-steps.js';
import type { Journal } from '../../state/journal.js';
import type { ResourceRecord } from '../../state/schema.js';
import type { VmStatus } from '../../model/deployment.js';
import type { BootstrapFactory, ProviderContext } from '../provider.js';
import { allocateAddress, associateAddress, describeAddress, releaseAddress } from './address.js';
import type { AwsClients } from './clients.js';
import { awsErrorCode, isAwsError, isDefiniteFailure, toCliError } from './errors.js';
import { describeFreshInstance, describeInstance, startInstance, toVmStatus } from './instance.js';
import { runInstance, type LaunchParams } from './launch.js';
import { findDefaultNetwork, findLaunchSubnets, findUbuntuImage, type ImageChoice, type NetworkChoice } from './lookups.js';
import { AWS_RESOURCE } from './resources.js';
import { awsReadAfterWrite } from './read-after-write.js';
import { resourceName } from './tags.js';
import { createSecurityGroup, describeSecurityGroup, reconcileIngress } from './security-group.js';

export interface ApplyOptions {
  instanceType: string;
  /** other valid sizes, suggested when the instance type has no capacity */
  otherSizes: string[];
}

/**
 * Creates the deployment's AWS resources, or resumes creating them: each step is
 * intend (journal) → create call → created (journal), and a step whose resource the journal
 * already holds (and that still exists) is skipped. Nothing is rolled back on failure: what was
 * made stays in the journal and tagged, so a re-run continues and `destroy` removes it.
 */
export async function applyDeployment(
  aws: AwsClients,
  ctx: ProviderContext,
  journal: Journal,
  bootstrapFor: BootstrapFactory,
  opts: ApplyOptions,
): Promise<VmStatus> {
  const deployment = ctx.spec.name;
  refuseAfterInterruptedDestroy(journal, 'aws:', deployment);
  let network: Promise<NetworkChoice> | undefined;
  const defaultNetwork = () => (network ??= findDefaultNetwork(aws));

  // 1. public mode: a static address first, so the hostname in the VM's TLS config can embed it
  //    and survives stop/start. Tunnel mode needs none: nothing connects in.
  let address: ResourceRecord | undefined;
  if (ctx.spec.network === 'public') {
    address = await stillThere(aws, journal, AWS_RESOURCE.address, (id) => describeAddress(aws, id));
    if (!address) {
      ctx.progress('allocating an Elastic IP address');
      await journal.intend(AWS_RESOURCE.address, AWS_RESOURCE.address, { region: aws.region });
      const { allocationId, publicIp } = await allocateAddress(aws, deployment);
      await journal.created(AWS_RESOURCE.address, allocationId, { publicIp });
      address = journal.find(AWS_RESOURCE.address)!;
    }
  } else {
    // drop a static address left by an earlier public-mode run
    const stale = journal.find(AWS_RESOURCE.address);
    if (stale && stale.phase !== 'deleted') {
      await journal.deleting(AWS_RESOURCE.address);
      if (stale.id) await releaseAddress(aws, stale.id);
      await journal.deleted(AWS_RESOURCE.address);
    }
  }
  const publicIp = typeof address?.meta.publicIp === 'string' ? address.meta.publicIp : undefined;
  const bootstrap = bootstrapFor(publicIp ? { publicIp } : {});

  // 2. security group (network set-up first, as its own step)
  let sg = await stillThere(aws, journal, AWS_RESOURCE.securityGroup, (id) => describeSecurityGroup(aws, id));
  if (!sg) {
    const net = await defaultNetwork();
    ctx.progress(`creating security group ${resourceName(deployment)} in ${net.vpcId}`);
    await journal.intend(AWS_RESOURCE.securityGroup, AWS_RESOURCE.securityGroup, { region: aws.region, meta: { vpcId: net.vpcId } });
    const groupId = await createSecurityGroup(aws, deployment, net.vpcId);
    await journal.created(AWS_RESOURCE.securityGroup, groupId, { vpcId: net.vpcId });
    sg = journal.find(AWS_RESOURCE.securityGroup)!;
  }
  const groupId = sg.id!;
  ctx.debug(`aws: security group ${groupId}, inbound tcp ports [${bootstrap.inboundPorts.join(', ')}]`);
  await reconcileIngress(aws, groupId, bootstrap.inboundPorts);

  // 3. instance (RunInstances deduplicated by the journal's ClientToken)
  let instance = await stillThere(
    aws,
    journal,
    AWS_RESOURCE.instance,
    (id) => describeInstance(aws, id),
    (inst) => inst.State?.Name !== 'terminated' && inst.State?.Name !== 'shutting-down',
  );
  if (!instance) {
    await launchInSomeZone(aws, ctx, journal, { deployment, groupId, userData: bootstrap.userData, opts });
    instance = journal.find(AWS_RESOURCE.instance)!;
  }
  const instanceId = instance.id!;
  await describeFreshInstance(aws, instanceId);
  ctx.progress(`waiting for instance ${instanceId} to be running`);
  await startInstance(aws, instanceId, opts.otherSizes); // a resumed run may find it stopped

  if (address?.id) {
    const associationId = await associateAddress(aws, address.id, instanceId);
    await journal.created(AWS_RESOURCE.address, address.id, { associationId, instanceId });
  }

  const status = toVmStatus(await describeInstance(aws, instanceId));
  await journal.created(AWS_RESOURCE.instance, instanceId, {
    instanceType: status.instanceType ?? opts.instanceType,
    publicIp: status.publicIp ?? null,
  });
  return status;
}

/** The shared journal step, with EC2's read-after-create retry for records made in the last minutes. */
function stillThere<T>(aws: AwsClients, journal: Journal, key: string, describe: (id: string) => Promise<T | undefined>, usable?: (found: T) => boolean) {
  return journaledStillThere(journal, key, describe, { ...(usable ? { usable } : {}), freshRead: (what, read) => awsReadAfterWrite(aws, what, read) });
}

/**
 * Launches the instance in the first default subnet whose zone offers the type; on a capacity
 * error (InsufficientInstanceCapacity, or the zone does not take the type) the next zone is
 * tried, each with its own journaled intent and ClientToken. A resumed intent (the run stopped
 * after RunInstances was sent) is retried first with its recorded arguments and token, so EC2
 * deduplicates it. When every zone says no, the error names the zones tried.
 */
async function launchInSomeZone(
  aws: AwsClients,
  ctx: ProviderContext,
  journal: Journal,
  l: { deployment: string; groupId: string; userData: string; opts: ApplyOptions },
): Promise<void> {
  const resumed = resumedLaunch(journal, l.deployment, l.groupId);
  const tried: string[] = [];
  let candidates: NetworkChoice[] | undefined;
  let image: ImageChoice | undefined;
  let lastCapacityError: unknown;
  for (;;) {
    let launch: LaunchParams;
    let zone: string;
    if (resumed && tried.length === 0) {
      ({ launch, zone } = resumed);
    } else {
      candidates ??= await findLaunchSubnets(aws, l.opts.instanceType);
      const next = candidates.find((c) => !tried.includes(c.availabilityZone));
      if (!next) break;
      image ??= await findUbuntuImage(aws);
      zone = next.availabilityZone;
      launch = { deployment: l.deployment, imageId: image.id, rootDeviceName: image.rootDeviceName, subnetId: next.subnetId, instanceType: l.opts.instanceType, securityGroupId: l.groupId, cpuCredits: ctx.spec.cpuCredits ?? 'standard' };
    }
    const { deployment: _d, securityGroupId: _g, ...recorded } = launch;
    const rec = await journal.intend(AWS_RESOURCE.instance, AWS_RESOURCE.instance, { region: aws.region, meta: { ...recorded, availabilityZone: zone } });
    ctx.progress(`launching ${launch.instanceType} instance in ${zone || aws.region} (image ${launch.imageId})`);
    try {
      const instanceId = await runInstance(aws, launch, l.userData, rec.token!);
      await journal.created(AWS_RESOURCE.instance, instanceId);
      return;
    } catch (e) {
      // A definite "no" from EC2 created nothing: forget the token, so the next try (another
      // zone, or a later run perhaps with another --size) starts clean. After a timeout the
      // token is kept: the retry is deduplicated.
      if (isDefiniteFailure(e)) await journal.deleted(AWS_RESOURCE.instance);
      if (!isAwsError(e, ...ZONE_CAPACITY_CODES)) throw toCliError(e, { action: 'RunInstances', region: aws.region, otherSizes: l.opts.otherSizes });
      ctx.progress(`no ${launch.instanceType} capacity in ${zone}; trying another availability zone`);
      tried.push(zone);
      lastCapacityError = e;
    }
  }
  const sizes = l.opts.otherSizes.length ? `try --size ${l.opts.otherSizes.join(' or --size ')} or another --region` : 'try another --region';
  throw capacityError(
    `AWS has no capacity for ${l.opts.instanceType} in ${aws.region} right now: tried ${tried.join(', ')} (${awsErrorCode(lastCapacityError) ?? 'InsufficientInstanceCapacity'})`,
    `${sizes}, or run init again later`,
    lastCapacityError,
  );
}

/** EC2's "not here": no capacity in the zone, or the zone does not take the instance type. */
const ZONE_CAPACITY_CODES = ['InsufficientInstanceCapacity', 'Unsupported'];

/**
 * The arguments of a launch intent left by an earlier run (image and subnet chosen then), so the
 * retried call is the same request and EC2 deduplicates it.
 */
function resumedLaunch(journal: Journal, deployment: string, securityGroupId: string): { launch: LaunchParams; zone: string } | undefined {
  const rec = journal.find(AWS_RESOURCE.instance);
  const m = rec?.phase === 'intent' ? rec.meta : {};
  if (typeof m.imageId === 'string' && typeof m.subnetId === 'string' && typeof m.rootDeviceName === 'string' && typeof m.instanceType === 'string') {
    const cpuCredits = m.cpuCredits === 'unlimited' ? 'unlimited' : 'standard';
    return {
      launch: { deployment, imageId: m.imageId, rootDeviceName: m.rootDeviceName, subnetId: m.subnetId, instanceType: m.instanceType, securityGroupId, cpuCredits },
      zone: typeof m.availabilityZone === 'string' ? m.availabilityZone : '',
    };
  }
  return undefined;
}

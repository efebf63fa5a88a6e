import { refuseAfterInterruptedDestroy, stillThere } from '../journal-steps.js';
import type { Journal } from '../../state/journal.js';
import type { ResourceRecord } from '../../state/schema.js';
import type { VmStatus } from '../../model/deployment.js';
import type { BootstrapFactory, ProviderContext } from '../provider.js';
import { allocateAddress, associateAddress, describeAddress, releaseAddress } from './address.js';
import type { AwsClients } from './clients.js';
import { isDefiniteFailure, toCliError } from './errors.js';
import { describeFreshInstance, describeInstance, startInstance, toVmStatus } from './instance.js';
import { runInstance, type LaunchParams } from './launch.js';
import { findDefaultNetwork, findUbuntuImage, type NetworkChoice } from './lookups.js';
import { AWS_RESOURCE } from './resources.js';
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
    address = await stillThere(journal, AWS_RESOURCE.address, (id) => describeAddress(aws, id));
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
  let sg = await stillThere(journal, AWS_RESOURCE.securityGroup, (id) => describeSecurityGroup(aws, id));
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
  let instance = await stillThere(journal, AWS_RESOURCE.instance, async (id) => {
    const inst = await describeInstance(aws, id);
    const state = inst?.State?.Name;
    return state === 'terminated' || state === 'shutting-down' ? undefined : inst;
  });
  if (!instance) {
    const launch = await launchParams(aws, journal, deployment, groupId, opts.instanceType, defaultNetwork);
    const { deployment: _d, securityGroupId: _g, ...recorded } = launch;
    const rec = await journal.intend(AWS_RESOURCE.instance, AWS_RESOURCE.instance, { region: aws.region, meta: recorded });
    ctx.progress(`launching ${launch.instanceType} instance (image ${launch.imageId})`);
    let instanceId: string;
    try {
      instanceId = await runInstance(aws, launch, bootstrap.userData, rec.token!);
    } catch (e) {
      // A definite "no" from EC2 created nothing: forget the token, so the next run (perhaps with
      // another --size) starts clean. After a timeout the token is kept: the retry is deduplicated.
      if (isDefiniteFailure(e)) await journal.deleted(AWS_RESOURCE.instance);
      throw toCliError(e, { action: 'RunInstances', region: aws.region, otherSizes: opts.otherSizes });
    }
    await journal.created(AWS_RESOURCE.instance, instanceId);
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

/**
 * RunInstances arguments. A resumed intent reuses the ones recorded with its token (image and
 * subnet chosen then), so the retried call is the same request and EC2 deduplicates it.
 */
async function launchParams(
  aws: AwsClients,
  journal: Journal,
  deployment: string,
  securityGroupId: string,
  instanceType: string,
  defaultNetwork: () => Promise<NetworkChoice>,
): Promise<LaunchParams> {
  const m = journal.find(AWS_RESOURCE.instance)?.phase === 'intent' ? journal.find(AWS_RESOURCE.instance)!.meta : {};
  if (typeof m.imageId === 'string' && typeof m.subnetId === 'string' && typeof m.rootDeviceName === 'string' && typeof m.instanceType === 'string') {
    return { deployment, imageId: m.imageId, rootDeviceName: m.rootDeviceName, subnetId: m.subnetId, instanceType: m.instanceType, securityGroupId };
  }
  const [image, net] = await Promise.all([findUbuntuImage(aws), defaultNetwork()]);
  return { deployment, imageId: image.id, rootDeviceName: image.rootDeviceName, subnetId: net.subnetId, instanceType, securityGroupId };
}

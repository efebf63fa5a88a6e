import type { Instance, InstanceStateName } from '@aws-sdk/client-ec2';
import { ModifyInstanceAttributeCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand } from './sdk.js';
import { CliError, ExitCode } from '../../ground/errors.js';
import { waitFor } from '../../ground/wait.js';
import { HOLD_TAG, type VmState, type VmStatus } from '../../model/deployment.js';
import type { AwsClients } from './clients.js';
import { awsCall, isNotFound, toCliError, type AwsErrorContext } from './errors.js';
import { awsReadAfterWrite } from './read-after-write.js';

/**
 * One EC2 instance: look it up, wait for a state, stop, start, change its type, terminate.
 * Eventual consistency is the normal case: an instance RunInstances just returned may answer
 * InvalidInstanceID.NotFound for a while, so lookups right after a create pass `fresh: true`.
 */

const ctxFor = (aws: AwsClients, action: string, otherSizes?: string[]): AwsErrorContext => ({ action, region: aws.region, otherSizes });

/** The instance, or undefined when EC2 says it does not exist. */
export async function describeInstance(aws: AwsClients, instanceId: string): Promise<Instance | undefined> {
  try {
    return (await aws.reads.describeInstances({ InstanceIds: [instanceId] })).find((i) => i.InstanceId === instanceId);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw toCliError(e, ctxFor(aws, 'DescribeInstances'));
  }
}

/**
 * Describe of an instance just created: InvalidInstanceID.NotFound is retried with backoff
 * (EC2's read-after-write gap), bounded, then reported as a failure.
 */
export async function describeFreshInstance(aws: AwsClients, instanceId: string): Promise<Instance> {
  return awsReadAfterWrite(aws, `instance ${instanceId}`, () => describeInstance(aws, instanceId));
}

export function toVmState(name: InstanceStateName | string | undefined): VmState {
  switch (name) {
    case 'pending':
    case 'running':
    case 'stopping':
    case 'stopped':
    case 'terminated':
      return name;
    case 'shutting-down':
      return 'terminated';
    default:
      return 'unknown';
  }
}

/** The instance's tags carry the hold tag (`stop --hold`). */
export const isHeld = (tags: Array<{ Key?: string }> | undefined): boolean => tags?.some((t) => t.Key === HOLD_TAG) ?? false;

export function toVmStatus(inst: Instance | undefined): VmStatus {
  if (!inst) return { state: 'missing' };
  const status: VmStatus = { state: toVmState(inst.State?.Name) };
  if (inst.InstanceType) status.instanceType = inst.InstanceType;
  if (inst.PublicIpAddress) status.publicIp = inst.PublicIpAddress;
  if (inst.PrivateIpAddress) status.privateIp = inst.PrivateIpAddress;
  if (inst.LaunchTime) status.launchedAt = new Date(inst.LaunchTime).toISOString();
  if (isHeld(inst.Tags)) status.held = true;
  // EC2 moves LaunchTime to each start, and dates a stop (API or from inside the guest) only in
  // StateTransitionReason: "User initiated (2026-12-07 05:00:00 GMT)".
  if (status.state === 'running' && status.launchedAt) status.startedAt = status.launchedAt;
  if (status.state === 'stopped' || status.state === 'stopping') {
    const at = /\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) GMT\)/.exec(inst.StateTransitionReason ?? '');
    if (at) status.stoppedAt = `${at[1]}T${at[2]}.000Z`;
  }
  return status;
}

type Target = 'running' | 'stopped' | 'terminated';

/**
 * States seen on the way to `target`, including the one just left (a Describe right after
 * Start/Stop may still show the previous state for a moment).
 */
const EN_ROUTE: Record<Target, InstanceStateName[]> = {
  running: ['stopped', 'pending', 'running'],
  stopped: ['running', 'stopping', 'stopped'],
  terminated: ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'],
};

/**
 * Polls until the instance is in `target`. For 'terminated', an instance EC2 no longer knows
 * counts as terminated. An instance that leaves the road to `target` (e.g. terminated while
 * launching) ends the wait with a CliError carrying EC2's state reason.
 */
export async function waitForInstance(aws: AwsClients, instanceId: string, target: Target): Promise<Instance | undefined> {
  return waitFor<Instance | { gone: true }>(
    async () => {
      const inst = await describeInstance(aws, instanceId);
      if (!inst) {
        if (target === 'terminated') return { gone: true };
        throw new CliError(`instance ${instanceId} no longer exists`, {
          hint: 'run crawl4ai-mcp destroy to clean up, then init again',
        });
      }
      const state = inst.State?.Name;
      if (state === target) return inst;
      if (state && !EN_ROUTE[target].includes(state)) {
        const reason = inst.StateReason?.Message ?? inst.StateTransitionReason ?? '';
        throw new CliError(`instance ${instanceId} went ${state} while waiting for it to be ${target}${reason ? `: ${reason}` : ''}`);
      }
      return undefined;
    },
    {
      what: `instance ${instanceId} to be ${target}`,
      intervalMs: aws.timing.pollMs,
      maxIntervalMs: aws.timing.maxPollMs,
      timeoutMs: aws.timing.waitTimeoutMs,
    },
  ).then((r) => ('gone' in r ? undefined : r));
}

/** Stops the instance and waits until it is stopped (a no-op when it already is). */
export async function stopInstance(aws: AwsClients, instanceId: string): Promise<Instance> {
  let inst = await mustDescribe(aws, instanceId);
  if (inst.State?.Name === 'pending') inst = (await waitForInstance(aws, instanceId, 'running'))!;
  if (inst.State?.Name === 'running') {
    await awsCall(ctxFor(aws, 'StopInstances'), () => aws.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] })));
  }
  return (await waitForInstance(aws, instanceId, 'stopped'))!;
}

/** Starts the instance and waits until it is running (a no-op when it already is). */
export async function startInstance(aws: AwsClients, instanceId: string, otherSizes?: string[]): Promise<Instance> {
  let inst = await mustDescribe(aws, instanceId);
  if (inst.State?.Name === 'stopping') inst = (await waitForInstance(aws, instanceId, 'stopped'))!;
  if (inst.State?.Name === 'stopped') {
    await awsCall(ctxFor(aws, 'StartInstances', otherSizes), () => aws.ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] })));
  }
  return (await waitForInstance(aws, instanceId, 'running'))!;
}

/** Changes the instance type of a stopped instance. */
export async function setInstanceType(aws: AwsClients, instanceId: string, instanceType: string): Promise<void> {
  await awsCall(ctxFor(aws, 'ModifyInstanceAttribute'), () =>
    aws.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceType: { Value: instanceType } })),
  );
}

/** Replaces the user data of a stopped instance (EC2 refuses it otherwise: IncorrectInstanceState). */
export async function setUserData(aws: AwsClients, instanceId: string, userData: string): Promise<void> {
  await awsCall(ctxFor(aws, 'ModifyInstanceAttribute'), () =>
    aws.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, UserData: { Value: Buffer.from(userData, 'utf8') } })),
  );
}

/** Terminates the instance (tolerating one that is already gone) and waits until it is terminated. */
export async function terminateInstance(aws: AwsClients, instanceId: string): Promise<void> {
  try {
    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  } catch (e) {
    if (isNotFound(e)) return;
    throw toCliError(e, ctxFor(aws, 'TerminateInstances'));
  }
  await waitForInstance(aws, instanceId, 'terminated');
}

async function mustDescribe(aws: AwsClients, instanceId: string): Promise<Instance> {
  const inst = await describeInstance(aws, instanceId);
  const state = inst?.State?.Name;
  if (!inst || state === 'terminated' || state === 'shutting-down') {
    throw new CliError(`instance ${instanceId} no longer exists (${state ?? 'not found'})`, {
      hint: 'run crawl4ai-mcp destroy to clean up, then init again',
      exitCode: ExitCode.notFound,
    });
  }
  return inst;
}

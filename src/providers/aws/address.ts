import type { Address } from '@aws-sdk/client-ec2';
import { AllocateAddressCommand, AssociateAddressCommand, DisassociateAddressCommand, ReleaseAddressCommand } from './sdk.js';
import { CliError } from '../../ground/errors.js';
import { retry } from '../../ground/wait.js';
import type { AwsClients } from './clients.js';
import { awsCall, isAwsError, isNotFound, toCliError } from './errors.js';
import { awsReadAfterWrite } from './read-after-write.js';
import { deploymentFilters, tagSpecifications } from './tags.js';

/**
 * The Elastic IP of a public-mode deployment: a static address, so the hostname embedding it
 * (and any A record the user made) survives stop/start. AllocateAddress has no idempotency token,
 * so a resumed run adopts the address already tagged for the deployment instead of allocating again.
 */

const c = (aws: AwsClients, action: string) => ({ action, region: aws.region });

/** Every Elastic IP tagged for the deployment (DescribeAddresses is not paginated). */
export async function findAddresses(aws: AwsClients, deployment: string): Promise<Address[]> {
  return awsCall(c(aws, 'DescribeAddresses'), () => aws.reads.describeAddresses({ Filters: deploymentFilters(deployment) }));
}

export async function describeAddress(aws: AwsClients, allocationId: string): Promise<Address | undefined> {
  try {
    return (await aws.reads.describeAddresses({ AllocationIds: [allocationId] }))[0];
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw toCliError(e, c(aws, 'DescribeAddresses'));
  }
}

/** Allocates a tagged address, or adopts the one already tagged for the deployment. */
export async function allocateAddress(aws: AwsClients, deployment: string): Promise<{ allocationId: string; publicIp: string }> {
  const existing = (await findAddresses(aws, deployment)).find((a) => a.AllocationId && a.PublicIp);
  if (existing) return { allocationId: existing.AllocationId!, publicIp: existing.PublicIp! };
  const out = await awsCall(c(aws, 'AllocateAddress'), () =>
    aws.ec2.send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: tagSpecifications(deployment, 'elastic-ip') })),
  );
  if (!out.AllocationId || !out.PublicIp) throw new CliError('AWS AllocateAddress answered without an allocation id');
  return { allocationId: out.AllocationId, publicIp: out.PublicIp };
}

/**
 * Associates the address with the instance (idempotent: an existing association to the same
 * instance is kept). Retries InvalidInstanceID.NotFound, which a just-created instance can give.
 */
export async function associateAddress(aws: AwsClients, allocationId: string, instanceId: string): Promise<string> {
  // called right after AllocateAddress (and RunInstances): either may not be visible yet
  const current = await awsReadAfterWrite(aws, `Elastic IP ${allocationId}`, () => describeAddress(aws, allocationId));
  if (current.InstanceId === instanceId && current.AssociationId) return current.AssociationId;
  const out = await retry(
    () => aws.ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId, AllowReassociation: false })),
    {
      retryIf: (e) => isAwsError(e, 'InvalidInstanceID.NotFound', 'InvalidAllocationID.NotFound', 'IncorrectInstanceState'),
      attempts: 30,
      baseMs: aws.timing.pollMs,
      maxMs: aws.timing.maxPollMs,
      deadlineMs: aws.timing.waitTimeoutMs,
    },
  ).catch((e: unknown) => {
    throw toCliError(e, c(aws, 'AssociateAddress'));
  });
  if (!out.AssociationId) throw new CliError('AWS AssociateAddress answered without an association id');
  return out.AssociationId;
}

/** Disassociates (if associated) and releases the address; an address already gone is fine. */
export async function releaseAddress(aws: AwsClients, allocationId: string): Promise<void> {
  const address = await describeAddress(aws, allocationId);
  if (!address) return;
  if (address.AssociationId) {
    try {
      await aws.ec2.send(new DisassociateAddressCommand({ AssociationId: address.AssociationId }));
    } catch (e) {
      if (!isNotFound(e)) throw toCliError(e, c(aws, 'DisassociateAddress'));
    }
  }
  try {
    // Right after a disassociation EC2 may still consider the address in use for a moment.
    await retry(() => aws.ec2.send(new ReleaseAddressCommand({ AllocationId: allocationId })), {
      retryIf: (e) => isAwsError(e, 'InvalidIPAddress.InUse'),
      attempts: 20,
      baseMs: aws.timing.pollMs,
      maxMs: aws.timing.maxPollMs,
    });
  } catch (e) {
    if (isNotFound(e)) return;
    throw toCliError(e, c(aws, 'ReleaseAddress'));
  }
}

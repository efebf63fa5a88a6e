import { DescribeInstancesCommand } from './sdk.js';
import type { Journal } from '../../state/journal.js';
import { destroyWalk } from '../destroy-steps.js';
import type { ResourceRecord } from '../../state/schema.js';
import type { ProviderContext } from '../provider.js';
import { releaseAddress } from './address.js';
import type { AwsClients } from './clients.js';
import { discoverResources } from './discover.js';
import { awsCall } from './errors.js';
import { terminateInstance } from './instance.js';
import { AWS_RESOURCE, type AwsResourceKind } from './resources.js';
import { deleteSecurityGroup } from './security-group.js';
import { deleteWakeUser, wakeUsersToDelete } from './wake.js';

/**
 * Deletes every AWS resource of the deployment: the union of what the journal holds and what
 * carries the deployment's tags (so it works with the state file gone). Order: the wake
 * credential (IAM user, found by path and name), address
 * (disassociate + release), instances (terminate, wait terminated), security groups (delete,
 * retrying DependencyViolation). Idempotent: anything already gone is fine. A failure on one
 * resource does not stop the others; the first failure is thrown at the end, and the journal
 * keeps the records not yet deleted, so running destroy again finishes the job.
 */
export async function destroyDeployment(aws: AwsClients, ctx: ProviderContext, journal: Journal): Promise<void> {
  const deployment = ctx.spec.name;
  const records = journal.live().filter((r) => r.kind.startsWith('aws:'));
  const discovered = await discoverResources(aws, deployment);
  const byToken = await instancesByClientToken(aws, records);
  const wakeUsers = await wakeUsersToDelete(aws, ctx, journal);

  const { step, finish } = destroyWalk<AwsResourceKind>(journal, records, discovered, ctx.progress, { [AWS_RESOURCE.instance]: byToken, [AWS_RESOURCE.wakeUser]: wakeUsers });

  // first: a key that can start the VM should not outlive it, even for a moment
  await step(AWS_RESOURCE.wakeUser, () => deleteWakeUser(aws, ctx), (name) => `deleting the wake credential (IAM user /crawl4ai-mcp/${name}, its key and policy)`);
  await step(AWS_RESOURCE.address, (id) => releaseAddress(aws, id), (id) => `releasing Elastic IP ${id}`);
  const instancesGone = await step(AWS_RESOURCE.instance, (id) => terminateInstance(aws, id), (id) => `terminating instance ${id} and waiting until it is terminated`);
  // A group cannot be deleted while an instance still uses it; skip when termination failed.
  if (instancesGone) {
    await step(
      AWS_RESOURCE.securityGroup,
      (id) => deleteSecurityGroup(aws, id, ctx.progress),
      (id) => `deleting security group ${id}`,
    );
  }
  finish();
}

/**
 * An instance record still in 'intent' (the run stopped between RunInstances and the journal
 * write) has no id, but its ClientToken finds it, even before tag search sees it.
 */
async function instancesByClientToken(aws: AwsClients, records: ResourceRecord[]): Promise<string[]> {
  const tokens = records.filter((r) => r.kind === AWS_RESOURCE.instance && r.phase === 'intent' && r.token).map((r) => r.token!);
  if (tokens.length === 0) return [];
  const out = await awsCall({ action: 'DescribeInstances', region: aws.region }, () =>
    aws.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: tokens }] })),
  );
  return (out.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .filter((i) => i.InstanceId && i.State?.Name !== 'terminated')
    .map((i) => i.InstanceId!);
}

import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import type { Journal } from '../../state/journal.js';
import type { ResourceRecord } from '../../state/schema.js';
import type { ProviderContext } from '../provider.js';
import { releaseAddress } from './address.js';
import type { AwsClients } from './clients.js';
import { discoverResources } from './discover.js';
import { awsCall } from './errors.js';
import { terminateInstance } from './instance.js';
import { AWS_RESOURCE, type AwsResourceKind } from './resources.js';
import { deleteSecurityGroup } from './security-group.js';

/**
 * Deletes every AWS resource of the deployment: the union of what the journal holds and what
 * carries the deployment's tags (so it works with the state file gone). Order: address
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

  const ids = (kind: AwsResourceKind): string[] => [
    ...new Set([
      ...records.filter((r) => r.kind === kind && r.id).map((r) => r.id!),
      ...discovered.filter((d) => d.kind === kind).map((d) => d.id),
      ...(kind === AWS_RESOURCE.instance ? byToken : []),
    ]),
  ];
  const errors: unknown[] = [];
  const step = async (kind: AwsResourceKind, remove: (id: string) => Promise<void>, describe: (id: string) => string) => {
    const mine = records.filter((r) => r.kind === kind);
    for (const r of mine) await journal.deleting(r.key);
    const results = await Promise.allSettled(
      ids(kind).map(async (id) => {
        ctx.progress(describe(id));
        await remove(id);
      }),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    errors.push(...failed.map((f) => f.reason));
    if (failed.length === 0) for (const r of mine) await journal.deleted(r.key);
    return failed.length === 0;
  };

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
  if (errors.length) throw errors[0];
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

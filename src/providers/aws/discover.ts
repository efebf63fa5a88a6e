import { paginateDescribeInstances, paginateDescribeSecurityGroups } from './sdk.js';
import type { DiscoveredResource } from '../../model/deployment.js';
import { findAddresses } from './address.js';
import type { AwsClients } from './clients.js';
import { awsCall } from './errors.js';
import { AWS_RESOURCE } from './resources.js';
import { deploymentFilters } from './tags.js';

const LIVE_INSTANCE_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];

/**
 * Every live resource tagged for the deployment, found without the state file: instances (not
 * terminated), security groups and Elastic IPs. Root volumes are tagged too but deleted with their
 * instance (DeleteOnTermination), so they are not listed.
 */
export async function discoverResources(aws: AwsClients, deployment: string): Promise<DiscoveredResource[]> {
  const filters = deploymentFilters(deployment);
  const region = aws.region;
  const [instances, groups, addresses] = await Promise.all([
    awsCall({ action: 'DescribeInstances', region }, async () => {
      const found: DiscoveredResource[] = [];
      const pages = paginateDescribeInstances(
        { client: aws.ec2 },
        { Filters: [...filters, { Name: 'instance-state-name', Values: LIVE_INSTANCE_STATES }] },
      );
      for await (const page of pages) {
        for (const inst of page.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
          if (inst.InstanceId) found.push({ kind: AWS_RESOURCE.instance, id: inst.InstanceId, region, state: inst.State?.Name });
        }
      }
      return found;
    }),
    awsCall({ action: 'DescribeSecurityGroups', region }, async () => {
      const found: DiscoveredResource[] = [];
      for await (const page of paginateDescribeSecurityGroups({ client: aws.ec2 }, { Filters: filters })) {
        for (const g of page.SecurityGroups ?? []) if (g.GroupId) found.push({ kind: AWS_RESOURCE.securityGroup, id: g.GroupId, region });
      }
      return found;
    }),
    findAddresses(aws, deployment).then((list) =>
      list.flatMap((a): DiscoveredResource[] =>
        a.AllocationId ? [{ kind: AWS_RESOURCE.address, id: a.AllocationId, region, state: a.AssociationId ? 'associated' : 'unassociated' }] : [],
      ),
    ),
  ]);
  return [...instances, ...groups, ...addresses];
}

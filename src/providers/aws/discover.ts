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
    awsCall({ action: 'DescribeInstances', region }, async () =>
      (await aws.reads.describeInstances({ Filters: [...filters, { Name: 'instance-state-name', Values: LIVE_INSTANCE_STATES }] })).flatMap(
        (inst): DiscoveredResource[] => (inst.InstanceId ? [{ kind: AWS_RESOURCE.instance, id: inst.InstanceId, region, state: inst.State?.Name }] : []),
      ),
    ),
    awsCall({ action: 'DescribeSecurityGroups', region }, async () =>
      (await aws.reads.describeSecurityGroups({ Filters: filters })).flatMap((g): DiscoveredResource[] =>
        g.GroupId ? [{ kind: AWS_RESOURCE.securityGroup, id: g.GroupId, region }] : [],
      ),
    ),
    findAddresses(aws, deployment).then((list) =>
      list.flatMap((a): DiscoveredResource[] =>
        a.AllocationId ? [{ kind: AWS_RESOURCE.address, id: a.AllocationId, region, state: a.AssociationId ? 'associated' : 'unassociated' }] : [],
      ),
    ),
  ]);
  return [...instances, ...groups, ...addresses];
}

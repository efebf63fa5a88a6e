import { estimateMonthly } from '../../pricing/estimate.js';
import type { Plan, PlannedResource } from '../../model/deployment.js';
import type { ProviderContext } from '../provider.js';
import type { AwsClients } from './clients.js';
import { ROOT_VOLUME_GIB } from './launch.js';
import { findDefaultNetwork, findUbuntuImage } from './lookups.js';
import { awsSize } from './sizes.js';
import { resourceName } from './tags.js';

/** What apply would create in the region, and what it costs. Read-only calls only. */
export async function planDeployment(aws: AwsClients, ctx: ProviderContext): Promise<Plan> {
  const { spec } = ctx;
  const size = awsSize(spec.size);
  const [image, net] = await Promise.all([findUbuntuImage(aws), findDefaultNetwork(aws)]);
  const name = resourceName(spec.name);
  const publicMode = spec.network === 'public';

  const resources: PlannedResource[] = [
    {
      kind: 'security group',
      name,
      detail: publicMode ? 'inbound tcp 443 from anywhere (IPv4 and IPv6) for HTTPS; no SSH' : 'no inbound rules at all (the tunnel connects out); no SSH',
    },
    {
      kind: 'EC2 instance',
      name,
      detail: `${size.instanceType} (${size.vcpus} vCPU, ${size.memoryGiB} GiB), ${image.name} (${image.id}), IMDSv2 only, no key pair, no instance profile, CPU credits ${spec.cpuCredits ?? 'standard'}`,
    },
    { kind: 'EBS volume', name, detail: `${ROOT_VOLUME_GIB} GiB gp3 root volume, encrypted, deleted with the instance` },
    publicMode
      ? { kind: 'Elastic IP', name, detail: 'static public IPv4 address, kept across stop/start, for the HTTPS hostname' }
      : { kind: 'public IPv4 address', name, detail: 'assigned by the subnet for outbound traffic only; changes on stop/start' },
  ];
  const cost = estimateMonthly({
    provider: 'aws',
    region: spec.region,
    size: spec.size,
    diskGiB: ROOT_VOLUME_GIB,
    publicIpv4: true, // both modes: tunnel mode needs one for outbound traffic
    staticIpv4: publicMode, // only the Elastic IP is kept (and billed) while stopped
    cpuCredits: spec.cpuCredits ?? 'standard',
  });
  return {
    provider: 'aws',
    region: spec.region,
    size: spec.size,
    instanceType: size.instanceType,
    vcpus: size.vcpus,
    memoryGiB: size.memoryGiB,
    diskGiB: ROOT_VOLUME_GIB,
    image: { id: image.id, name: image.name },
    network: {
      vpc: net.vpcId,
      subnet: net.subnetId,
      detail: `default VPC ${net.vpcId}, default subnet ${net.subnetId} (${net.availabilityZone})`,
    },
    resources,
    cost,
  };
}

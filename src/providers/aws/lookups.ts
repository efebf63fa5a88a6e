import type { Image, Subnet } from '@aws-sdk/client-ec2';
import { DescribeSubnetsCommand, DescribeVpcsCommand, paginateDescribeImages, paginateDescribeInstanceTypeOfferings } from './sdk.js';
import { capacityError, CliError, usageError } from '../../ground/errors.js';
import type { AwsClients } from './clients.js';
import { awsCall } from './errors.js';

/** Canonical's AWS account: the only owner whose Ubuntu images we trust. */
export const CANONICAL_OWNER_ID = '099720109477';
/** Ubuntu 24.04 LTS (noble), amd64, gp3 root volume. */
export const UBUNTU_IMAGE_NAME = 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*';

export interface ImageChoice {
  id: string;
  name: string;
  /** the image's root device (the block device mapping must use it to resize/encrypt the root volume) */
  rootDeviceName: string;
}

/** The newest available Ubuntu 24.04 LTS image published by Canonical in the region. */
export async function findUbuntuImage(aws: AwsClients): Promise<ImageChoice> {
  const images: Image[] = await awsCall({ action: 'DescribeImages', region: aws.region }, async () => {
    const found: Image[] = [];
    const pages = paginateDescribeImages(
      { client: aws.ec2 },
      {
        Owners: [CANONICAL_OWNER_ID],
        Filters: [
          { Name: 'name', Values: [UBUNTU_IMAGE_NAME] },
          { Name: 'state', Values: ['available'] },
          { Name: 'architecture', Values: ['x86_64'] },
        ],
      },
    );
    for await (const page of pages) found.push(...(page.Images ?? []));
    return found;
  });
  const newest = images
    .filter((i) => i.ImageId && i.Name)
    .sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
  if (!newest) {
    throw new CliError(`no Ubuntu 24.04 LTS image from Canonical found in ${aws.region}`, {
      hint: 'pick another --region',
    });
  }
  return { id: newest.ImageId!, name: newest.Name!, rootDeviceName: newest.RootDeviceName ?? '/dev/sda1' };
}

export interface NetworkChoice {
  vpcId: string;
  subnetId: string;
  availabilityZone: string;
  /** the subnet gives instances a public IPv4 address (needed for outbound internet in tunnel mode) */
  mapsPublicIp: boolean;
}

/** The region's default VPC and one of its default subnets; a clear usage error when there is none. */
export async function findDefaultNetwork(aws: AwsClients): Promise<NetworkChoice> {
  const { vpcId, subnets } = await defaultSubnets(aws);
  return toChoice(vpcId, subnets[0]!);
}

/**
 * The default subnets an instance of `instanceType` can launch in, best first: only zones that
 * offer the type (DescribeInstanceTypeOfferings), subnets that hand out public addresses first,
 * then by zone name. On a capacity error, launch tries the next one.
 */
export async function findLaunchSubnets(aws: AwsClients, instanceType: string): Promise<NetworkChoice[]> {
  const [{ vpcId, subnets }, offered] = await Promise.all([defaultSubnets(aws), zonesOffering(aws, instanceType)]);
  const usable = subnets.filter((s) => offered.has(s.AvailabilityZone ?? ''));
  if (usable.length === 0) {
    throw capacityError(
      `instance type ${instanceType} is not offered in any availability zone of ${aws.region} that has a default subnet`,
      'try another --size or --region',
    );
  }
  return usable.map((s) => toChoice(vpcId, s));
}

async function zonesOffering(aws: AwsClients, instanceType: string): Promise<Set<string>> {
  return awsCall({ action: 'DescribeInstanceTypeOfferings', region: aws.region }, async () => {
    const zones = new Set<string>();
    const pages = paginateDescribeInstanceTypeOfferings(
      { client: aws.ec2 },
      { LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: [instanceType] }] },
    );
    for await (const page of pages) for (const o of page.InstanceTypeOfferings ?? []) if (o.Location) zones.add(o.Location);
    return zones;
  });
}

function toChoice(vpcId: string, subnet: Subnet): NetworkChoice {
  return {
    vpcId,
    subnetId: subnet.SubnetId!,
    availabilityZone: subnet.AvailabilityZone ?? '',
    mapsPublicIp: subnet.MapPublicIpOnLaunch === true,
  };
}

/** The default VPC and its usable default subnets, ordered as pickSubnet prefers them (never empty). */
async function defaultSubnets(aws: AwsClients): Promise<{ vpcId: string; subnets: Subnet[] }> {
  const c = { region: aws.region };
  const vpcs = await awsCall({ ...c, action: 'DescribeVpcs' }, () =>
    aws.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] })),
  );
  const vpcId = vpcs.Vpcs?.find((v) => v.IsDefault !== false && v.VpcId)?.VpcId;
  if (!vpcId) {
    throw usageError(
      `region ${aws.region} has no default VPC`,
      `create one with \`aws ec2 create-default-vpc --region ${aws.region}\` or pick another --region`,
    );
  }
  const subnets = await awsCall({ ...c, action: 'DescribeSubnets' }, async () => {
    const out = await aws.ec2.send(
      new DescribeSubnetsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'default-for-az', Values: ['true'] },
        ],
      }),
    );
    return out.Subnets ?? [];
  });
  const ordered = orderSubnets(subnets);
  if (ordered.length === 0) {
    throw usageError(
      `the default VPC ${vpcId} in ${aws.region} has no default subnet`,
      `create one with \`aws ec2 create-default-subnet --availability-zone ${aws.region}a --region ${aws.region}\` or pick another --region`,
    );
  }
  return { vpcId, subnets: ordered };
}

/** Deterministic: subnets with room, those that hand out public addresses first, then by zone name. */
function orderSubnets(subnets: Subnet[]): Subnet[] {
  const usable = subnets
    .filter((s) => s.SubnetId && s.State !== 'pending' && (s.AvailableIpAddressCount ?? 1) > 0)
    .sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''));
  return [...usable.filter((s) => s.MapPublicIpOnLaunch), ...usable.filter((s) => !s.MapPublicIpOnLaunch)];
}

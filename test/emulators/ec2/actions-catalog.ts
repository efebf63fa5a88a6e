/** Read-mostly catalog calls: regions, zones, images, VPCs, subnets, instance types, volumes. */
import { INSTANCE_TYPES, REGIONS, type InstanceTypeInfo } from './catalog.js';
import { checkId, inRegion, paginate, uniq, type ActionDef, type Ctx } from './context.js';
import { Ec2Error } from './errors.js';
import type { Image, Subnet, Volume, Vpc } from './model.js';
import { applyFilters, readFilters } from './params.js';
import { renderImage, renderInstanceType, renderRegion, renderSubnet, renderVolume, renderVpc } from './render.js';
import { el, items, node } from './xml.js';

function describeRegions(ctx: Ctx): string {
  const names = ctx.p.list('RegionName');
  const all = ctx.p.bool('AllRegions') ?? false;
  for (const n of names) if (!REGIONS.some((r) => r.name === n)) throw new Ec2Error('InvalidParameterValue', `Invalid region: ${n}`);
  let list = REGIONS.filter((r) => (names.length ? names.includes(r.name) : all || r.optIn !== 'not-opted-in'));
  list = applyFilters(list, readFilters(ctx.p), {
    'region-name': (r) => r.name,
    endpoint: (r) => `ec2.${r.name}.amazonaws.com`,
    'opt-in-status': (r) => r.optIn,
  });
  return items('regionInfo', list, renderRegion);
}

function describeAvailabilityZones(ctx: Ctx): string {
  const info = ctx.state.regionInfo(ctx.region)!;
  let zones = info.zones.map((z, i) => ({ name: info.name + z, id: `${info.zoneIdPrefix}-az${i + 1}` }));
  const names = ctx.p.list('ZoneName');
  const ids = ctx.p.list('ZoneId');
  for (const n of names) if (!zones.some((z) => z.name === n)) throw new Ec2Error('InvalidParameterValue', `The zone '${n}' does not exist.`);
  for (const n of ids) if (!zones.some((z) => z.id === n)) throw new Ec2Error('InvalidParameterValue', `The zone id '${n}' does not exist.`);
  if (names.length || ids.length) zones = zones.filter((z) => names.includes(z.name) || ids.includes(z.id));
  zones = applyFilters(zones, readFilters(ctx.p), {
    'zone-name': (z) => z.name,
    'zone-id': (z) => z.id,
    state: () => 'available',
    'region-name': () => info.name,
    'zone-type': () => 'availability-zone',
    'group-name': () => info.name,
    'group-long-name': () => info.name,
    'network-border-group': () => info.name,
    'opt-in-status': () => 'opt-in-not-required',
  });
  return items(
    'availabilityZoneInfo',
    zones,
    (z) =>
      el('zoneName', z.name) +
      el('zoneState', 'available') +
      el('regionName', info.name) +
      node('messageSet', '') +
      el('zoneId', z.id) +
      el('groupName', info.name) +
      el('networkBorderGroup', info.name) +
      el('optInStatus', 'opt-in-not-required') +
      el('zoneType', 'availability-zone'),
  );
}

function describeImages(ctx: Ctx): string {
  const { p, state } = ctx;
  const ids = p.list('ImageId');
  const owners = p.list('Owner');
  if (ids.length && p.get('MaxResults') !== undefined) throw new Ec2Error('InvalidParameterCombination', 'The parameter imageIdsSet cannot be used with the parameter maxResults');
  let list: Image[];
  if (ids.length) {
    const missingIds: string[] = [];
    list = [];
    for (const id of uniq(ids)) {
      checkId(id, 'ami', 'InvalidAMIID.Malformed');
      const img = state.images.get(id);
      if (!img || img.region !== ctx.region) missingIds.push(id);
      else list.push(img);
    }
    if (missingIds.length) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${missingIds.join(', ')}]' does not exist`);
  } else {
    const includeDeprecated = p.bool('IncludeDeprecated') ?? false;
    list = inRegion(ctx, state.images).filter(
      (img) => includeDeprecated || img.ownerId === state.accountId || !img.deprecationTime || Date.parse(img.deprecationTime) > ctx.now,
    );
  }
  if (owners.length) {
    for (const o of owners) {
      if (!/^\d{12}$/.test(o) && !['self', 'amazon', 'aws-marketplace', 'aws-backup-vault'].includes(o)) {
        throw new Ec2Error('InvalidUserID.Malformed', `Invalid user id: "${o}"`);
      }
    }
    list = list.filter((img) => owners.some((o) => o === img.ownerId || (o === 'self' && img.ownerId === state.accountId) || (o === img.ownerAlias && o !== undefined)));
  }
  list = applyFilters(list, readFilters(p), {
    name: (i) => i.name,
    architecture: (i) => i.architecture,
    state: (i) => i.state,
    'owner-id': (i) => i.ownerId,
    'owner-alias': (i) => i.ownerAlias,
    'image-id': (i) => i.imageId,
    'image-type': () => 'machine',
    'is-public': (i) => i.public,
    'root-device-type': () => 'ebs',
    'root-device-name': (i) => i.rootDeviceName,
    'virtualization-type': () => 'hvm',
    hypervisor: () => 'xen',
    description: (i) => i.description,
    'creation-date': (i) => i.creationDate,
    'platform-details': () => 'Linux/UNIX',
    'ena-support': () => true,
    'block-device-mapping.volume-type': () => 'gp3',
    'block-device-mapping.volume-size': (i) => i.rootSize,
    'block-device-mapping.snapshot-id': (i) => i.snapshotId,
    'block-device-mapping.device-name': (i) => i.rootDeviceName,
  });
  const { page, nextToken } = paginate(ctx, list, { min: 6, max: 1000 }, ids.length === 0);
  return items('imagesSet', page, renderImage) + el('nextToken', nextToken);
}

function describeVpcs(ctx: Ctx): string {
  const { p, state } = ctx;
  const ids = p.list('VpcId');
  let list: Vpc[] = inRegion(ctx, state.vpcs);
  if (ids.length) {
    for (const id of ids) checkId(id, 'vpc', 'InvalidVpcID.Malformed');
    const missingIds = uniq(ids).filter((id) => !list.some((v) => v.vpcId === id));
    if (missingIds.length) throw new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${missingIds.join(', ')}' does not exist`);
    list = list.filter((v) => ids.includes(v.vpcId));
  }
  list = applyFilters(list, readFilters(p), {
    'vpc-id': (v) => v.vpcId,
    'is-default': (v) => v.isDefault,
    isDefault: (v) => v.isDefault,
    state: (v) => v.state,
    cidr: (v) => v.cidrBlock,
    'cidr-block-association.cidr-block': (v) => v.cidrBlock,
    'owner-id': (v) => v.ownerId,
    'dhcp-options-id': (v) => v.dhcpOptionsId,
  });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 1000 }, ids.length === 0);
  return items('vpcSet', page, renderVpc) + el('nextToken', nextToken);
}

function describeSubnets(ctx: Ctx): string {
  const { p, state } = ctx;
  const ids = p.list('SubnetId');
  let list: Subnet[] = inRegion(ctx, state.subnets);
  if (ids.length) {
    for (const id of ids) checkId(id, 'subnet', 'InvalidSubnetID.Malformed');
    const missingIds = uniq(ids).filter((id) => !list.some((s) => s.subnetId === id));
    if (missingIds.length) throw new Ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${missingIds.join(', ')}' does not exist`);
    list = list.filter((s) => ids.includes(s.subnetId));
  }
  list = applyFilters(list, readFilters(p), {
    'subnet-id': (s) => s.subnetId,
    'vpc-id': (s) => s.vpcId,
    vpcId: (s) => s.vpcId,
    'availability-zone': (s) => s.az,
    availabilityZone: (s) => s.az,
    'availability-zone-id': (s) => s.azId,
    'default-for-az': (s) => s.defaultForAz,
    defaultForAz: (s) => s.defaultForAz,
    state: (s) => s.state,
    'cidr-block': (s) => s.cidrBlock,
    cidrBlock: (s) => s.cidrBlock,
    cidr: (s) => s.cidrBlock,
    'map-public-ip-on-launch': (s) => s.mapPublicIpOnLaunch,
    'owner-id': (s) => s.ownerId,
    'available-ip-address-count': (s) => s.available,
  });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 1000 }, ids.length === 0);
  return items('subnetSet', page, renderSubnet) + el('nextToken', nextToken);
}

function describeInstanceTypes(ctx: Ctx): string {
  const { p } = ctx;
  const names = p.list('InstanceType');
  let list: InstanceTypeInfo[] = INSTANCE_TYPES;
  if (names.length) {
    const unknown = names.filter((n) => !INSTANCE_TYPES.some((t) => t.name === n));
    if (unknown.length) throw new Ec2Error('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown.join(', ')}]`);
    list = INSTANCE_TYPES.filter((t) => names.includes(t.name));
  }
  list = applyFilters(list, readFilters(p), {
    'instance-type': (t) => t.name,
    'current-generation': () => true,
    'free-tier-eligible': (t) => !!t.freeTier,
    'processor-info.supported-architecture': (t) => t.arch,
    'processor-info.manufacturer': (t) => t.manufacturer,
    'vcpu-info.default-vcpus': (t) => t.vcpus,
    'memory-info.size-in-mib': (t) => t.memMiB,
    'burstable-performance-supported': (t) => t.burstable,
    hypervisor: (t) => t.hypervisor,
    'bare-metal': () => false,
    'supported-usage-class': () => ['on-demand', 'spot'],
    'supported-virtualization-type': () => 'hvm',
    'network-info.network-performance': (t) => t.network,
  });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 100 }, names.length === 0);
  return items('instanceTypeSet', page, renderInstanceType) + el('nextToken', nextToken);
}

function describeVolumes(ctx: Ctx): string {
  const { p, state } = ctx;
  const ids = p.list('VolumeId');
  let list: Volume[] = inRegion(ctx, state.volumes);
  if (ids.length) {
    if (p.get('MaxResults') !== undefined) throw new Ec2Error('InvalidParameterCombination', 'The parameter volumeSet cannot be used with the parameter maxResults');
    for (const id of ids) checkId(id, 'vol', 'InvalidVolumeID.Malformed');
    const missingIds = uniq(ids).filter((id) => !list.some((v) => v.volumeId === id));
    if (missingIds.length) throw new Ec2Error('InvalidVolume.NotFound', `The volume '${missingIds.join(', ')}' does not exist.`);
    list = list.filter((v) => ids.includes(v.volumeId));
  }
  list = applyFilters(list, readFilters(p), {
    'volume-id': (v) => v.volumeId,
    status: (v) => v.state,
    size: (v) => v.size,
    'volume-type': (v) => v.volumeType,
    encrypted: (v) => v.encrypted,
    'availability-zone': (v) => v.az,
    'snapshot-id': (v) => v.snapshotId,
    'attachment.instance-id': (v) => v.attachment?.instanceId,
    'attachment.device': (v) => v.attachment?.device,
    'attachment.status': (v) => v.attachment?.state,
    'attachment.delete-on-termination': (v) => v.attachment?.deleteOnTermination,
  });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 500 }, ids.length === 0);
  return items('volumeSet', page, (v) => renderVolume(v, state.accountId)) + el('nextToken', nextToken);
}

export const catalogActions: Record<string, ActionDef> = {
  DescribeRegions: { handler: describeRegions, params: ['RegionName', 'AllRegions', 'DryRun', 'Filter'] },
  DescribeAvailabilityZones: { handler: describeAvailabilityZones, params: ['ZoneName', 'ZoneId', 'AllAvailabilityZones', 'DryRun', 'Filter'] },
  DescribeImages: { handler: describeImages, params: ['ExecutableBy', 'ImageId', 'Owner', 'IncludeDeprecated', 'IncludeDisabled', 'MaxResults', 'NextToken', 'DryRun', 'Filter'] },
  DescribeVpcs: { handler: describeVpcs, params: ['Filter', 'VpcId', 'NextToken', 'MaxResults', 'DryRun'] },
  DescribeSubnets: { handler: describeSubnets, params: ['Filter', 'SubnetId', 'NextToken', 'MaxResults', 'DryRun'] },
  DescribeInstanceTypes: { handler: describeInstanceTypes, params: ['DryRun', 'InstanceType', 'Filter', 'MaxResults', 'NextToken', 'IncludeUnsupportedInRegion'] },
  DescribeVolumes: { handler: describeVolumes, params: ['VolumeId', 'IncludeManagedResources', 'DryRun', 'Filter', 'NextToken', 'MaxResults'] },
};

/** RunInstances, DescribeInstances, DescribeInstanceStatus, Stop/Start/Reboot/TerminateInstances, Modify/DescribeInstanceAttribute, GetConsoleOutput. */
import { createHash } from 'node:crypto';
import { INSTANCE_TYPES, type InstanceTypeInfo } from './catalog.js';
import { checkId, inRegion, paginate, uniq, type ActionDef, type Ctx } from './context.js';
import { checkZoneCapacity } from './capacity.js';
import { Ec2Error, invalidValue, missing, notFoundList } from './errors.js';
import { STATE_CODES, hexId, type Instance, type InstanceStateName, type MetadataOptions, type Subnet, type Volume } from './model.js';
import { applyFilters, readFilters, readTagSpecs, type Params } from './params.js';
import { privateDns, renderInstance, stateXml } from './render.js';
import { resolveGroupIds } from './actions-network.js';
import { el, iso, items, node } from './xml.js';

const VOLUME_TYPES = ['standard', 'gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1'];

function instanceTypeOrThrow(name: string, param = 'InstanceType'): InstanceTypeInfo {
  const t = INSTANCE_TYPES.find((x) => x.name === name);
  if (!t) throw new Ec2Error('InvalidParameterValue', `Invalid value '${name}' for ${param}. The instance type '${name}' does not exist in this region.`);
  return t;
}

/** Looks up instances by id in the caller's region; unknown ids (and brand-new ones, while the consistency window lasts) fail together. */
export function lookupInstances(ctx: Ctx, ids: string[], opts: { consistency: boolean }): Instance[] {
  for (const id of ids) checkId(id, 'i', 'InvalidInstanceID.Malformed');
  const missingIds: string[] = [];
  const out: Instance[] = [];
  for (const id of uniq(ids)) {
    const inst = ctx.state.instances.get(id);
    if (!inst || inst.region !== ctx.region || (opts.consistency && ctx.now - inst.createdAt < ctx.controls.consistencyDelayMs)) missingIds.push(id);
    else out.push(inst);
  }
  if (missingIds.length) throw notFoundList('InvalidInstanceID.NotFound', 'instance', missingIds);
  return out;
}

function decodeUserData(b64: string): string {
  const compact = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new Ec2Error('InvalidParameterValue', `Invalid BASE64 encoding of user data.`);
  }
  const buf = Buffer.from(compact, 'base64');
  if (buf.length > 16384) throw new Ec2Error('InvalidParameterValue', `User data is limited to 16384 bytes`);
  return buf.toString('utf8');
}

function vcpusInUse(ctx: Ctx, exclude?: string): number {
  return inRegion(ctx, ctx.state.instances)
    .filter((i) => i.instanceId !== exclude && (i.state === 'pending' || i.state === 'running' || i.state === 'stopping' || i.state === 'shutting-down'))
    .reduce((n, i) => n + (INSTANCE_TYPES.find((t) => t.name === i.instanceType)?.vcpus ?? 2), 0);
}

function checkCapacity(ctx: Ctx, type: InstanceTypeInfo, count: number, az: string, exclude?: string): void {
  if (ctx.dryRun) return; // a dry run checks permissions and parameters, not capacity
  checkZoneCapacity(ctx, ctx.controls.capacity, type.name, az);
  if (ctx.controls.insufficientCapacity.has(type.name)) {
    const others = ctx.state.regionInfo(ctx.region)!.zones.map((z) => ctx.region + z).filter((z) => z !== az);
    throw new Ec2Error(
      'InsufficientInstanceCapacity',
      `We currently do not have sufficient ${type.name} capacity in the Availability Zone you requested (${az}). Our system will be working on provisioning additional capacity. You can currently get ${type.name} capacity by not specifying an Availability Zone in your request or choosing ${others.join(', ')}.`,
      500,
    );
  }
  const want = vcpusInUse(ctx, exclude) + type.vcpus * count;
  if (want > ctx.controls.vcpuLimit) {
    throw new Ec2Error(
      'VcpuLimitExceeded',
      `You have requested more vCPU capacity than your current vCPU limit of ${ctx.controls.vcpuLimit} allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`,
    );
  }
}

function requestFingerprint(p: Params): string {
  const entries = Object.entries(p.raw)
    .filter(([k]) => k !== 'ClientToken' && k !== 'DryRun')
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

function renderReservation(ctx: Ctx, reservationId: string, instances: Instance[]): string {
  return (
    el('reservationId', reservationId) +
    el('ownerId', ctx.state.accountId) +
    node('groupSet', '') +
    items('instancesSet', instances, (i) => renderInstance(ctx.state, i))
  );
}

interface BdmRequest {
  deviceName: string;
  noDevice: boolean;
  volumeType?: string;
  size?: number;
  iops?: number;
  throughput?: number;
  encrypted?: boolean;
  kmsKeyId?: string;
  deleteOnTermination?: boolean;
  snapshotId?: string;
}

function readBlockDeviceMappings(p: Params): BdmRequest[] {
  const out: BdmRequest[] = [];
  for (const b of p.structs('BlockDeviceMapping')) {
    const deviceName = b.get('DeviceName');
    if (!deviceName) throw missing(b.name('DeviceName'));
    if (out.some((x) => x.deviceName === deviceName)) throw new Ec2Error('InvalidBlockDeviceMapping', `The device '${deviceName}' is used in more than one block-device mapping`);
    const e = b.sub('Ebs');
    const volumeType = e.get('VolumeType');
    if (volumeType !== undefined && !VOLUME_TYPES.includes(volumeType)) throw invalidValue('volumeType', volumeType, `Valid values: ${VOLUME_TYPES.join(', ')}`);
    const size = e.int('VolumeSize', { min: 1, max: 65536 });
    const iops = e.int('Iops');
    const throughput = e.int('Throughput');
    const vt = volumeType ?? 'gp2';
    if ((vt === 'io1' || vt === 'io2') && iops === undefined) throw new Ec2Error('InvalidParameterCombination', `The parameter iops must be specified for ${vt} volumes.`);
    if (iops !== undefined && !['io1', 'io2', 'gp3'].includes(vt)) throw new Ec2Error('InvalidParameterCombination', `The parameter iops is not supported for ${vt} volumes.`);
    if (throughput !== undefined && vt !== 'gp3') throw new Ec2Error('InvalidParameterCombination', `The parameter throughput is not supported for ${vt} volumes.`);
    if (size !== undefined && (vt === 'gp2' || vt === 'gp3') && size > 16384) throw invalidValue('size', String(size), 'Volume size must be at most 16384 GiB for gp2/gp3.');
    out.push({
      deviceName,
      noDevice: b.get('NoDevice') !== undefined,
      volumeType,
      size,
      iops,
      throughput,
      encrypted: e.bool('Encrypted'),
      kmsKeyId: e.get('KmsKeyId'),
      deleteOnTermination: e.bool('DeleteOnTermination'),
      snapshotId: e.get('SnapshotId'),
    });
  }
  return out;
}

function readMetadataOptions(p: Params, imdsV2Ami: boolean): MetadataOptions {
  const m = p.sub('MetadataOptions');
  const httpTokens = m.get('HttpTokens') ?? (imdsV2Ami ? 'required' : 'optional');
  if (httpTokens !== 'optional' && httpTokens !== 'required') throw invalidValue('HttpTokens', httpTokens, "Valid values: 'optional', 'required'.");
  const hop = m.int('HttpPutResponseHopLimit') ?? (imdsV2Ami ? 2 : 1);
  if (hop < 1 || hop > 64) throw invalidValue('HttpPutResponseHopLimit', String(hop), 'Valid range: 1 to 64.');
  const enumOf = (key: string, def: 'enabled' | 'disabled') => {
    const v = m.get(key) ?? def;
    if (v !== 'enabled' && v !== 'disabled') throw invalidValue(key, v, "Valid values: 'enabled', 'disabled'.");
    return v;
  };
  return {
    httpTokens,
    httpPutResponseHopLimit: hop,
    httpEndpoint: enumOf('HttpEndpoint', 'enabled'),
    httpProtocolIpv6: enumOf('HttpProtocolIpv6', 'disabled'),
    instanceMetadataTags: enumOf('InstanceMetadataTags', 'disabled'),
  };
}

/**
 * CreditSpecification.CpuCredits: only burstable (T) types take it. Without it, T3 launches in
 * 'unlimited' mode (surplus credits are billed) and T2 in 'standard', as EC2 does.
 */
function readCreditSpecification(p: Params, type: InstanceTypeInfo): 'standard' | 'unlimited' | undefined {
  const given = p.sub('CreditSpecification').get('CpuCredits');
  if (given !== undefined) {
    if (given !== 'standard' && given !== 'unlimited') throw invalidValue('CpuCredits', given, "Valid values: 'standard', 'unlimited'.");
    if (!type.burstable) throw new Ec2Error('InvalidParameterCombination', `The parameter CreditSpecification is not supported for ${type.name} instances.`);
    return given;
  }
  if (!type.burstable) return undefined;
  return type.name.startsWith('t2.') ? 'standard' : 'unlimited';
}

function runInstances(ctx: Ctx): string {
  const { p, state } = ctx;
  const minCount = p.int('MinCount')!;
  const maxCount = p.int('MaxCount')!;
  if (minCount < 1) throw invalidValue('MinCount', String(minCount), 'MinCount must be at least 1.');
  if (maxCount < minCount) throw new Ec2Error('InvalidParameterValue', `Invalid value '${minCount}' for MinCount. MinCount must be less than or equal to MaxCount (${maxCount}).`);

  const clientToken = p.get('ClientToken') ?? '';
  if (clientToken.length > 64) throw invalidValue('ClientToken', clientToken, 'ClientToken may be at most 64 characters long.');
  const fp = requestFingerprint(p);
  if (clientToken) {
    const prior = state.clientTokens.get(`${ctx.region}|${clientToken}`);
    if (prior) {
      if (prior.fingerprint !== fp) {
        throw new Ec2Error('IdempotentParameterMismatch', 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
      }
      const insts = prior.instanceIds.map((id) => state.instances.get(id)).filter((i): i is Instance => !!i);
      return renderReservation(ctx, prior.reservationId, insts);
    }
  }

  if (p.has('LaunchTemplate')) throw new Ec2Error('InvalidParameterValue', 'LaunchTemplate is not supported by this emulator; pass ImageId and InstanceType.');
  const imageId = p.req('ImageId');
  checkId(imageId, 'ami', 'InvalidAMIID.Malformed');
  const image = state.images.get(imageId);
  if (!image || image.region !== ctx.region) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
  const typeName = p.get('InstanceType') ?? 'm1.small';
  const type = instanceTypeOrThrow(typeName);
  if (type.arch !== image.architecture) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `The architecture '${type.arch}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.`,
    );
  }

  // --- network placement
  const nis = p.structs('NetworkInterface');
  const ni0 = nis.find((n) => n.get('DeviceIndex') === '0') ?? nis[0];
  if (nis.length) {
    if (p.get('SubnetId') !== undefined) throw new Ec2Error('InvalidParameterCombination', 'Network interfaces and an instance-level subnet ID may not be specified on the same request');
    if (p.list('SecurityGroupId').length || p.list('SecurityGroup').length) {
      throw new Ec2Error('InvalidParameterCombination', 'Network interfaces and an instance-level security groups may not be specified on the same request');
    }
    if (ni0?.get('DeviceIndex') === undefined) throw new Ec2Error('InvalidParameterValue', 'Each network interface requires a device index.');
  }
  const subnetId = ni0 ? ni0.get('SubnetId') : p.get('SubnetId');
  const wantAz = p.sub('Placement').get('AvailabilityZone');
  let subnet: Subnet | undefined;
  if (subnetId !== undefined) {
    checkId(subnetId, 'subnet', 'InvalidSubnetID.Malformed');
    subnet = state.subnets.get(subnetId);
    if (!subnet || subnet.region !== ctx.region) throw new Ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    if (wantAz && wantAz !== subnet.az) throw new Ec2Error('InvalidParameterValue', `Value (${wantAz}) for parameter availabilityZone is invalid. Subnet ${subnetId} is in Availability Zone ${subnet.az}`);
  } else {
    const vpc = state.defaultVpc(ctx.region);
    if (!vpc) throw new Ec2Error('VPCIdNotSpecified', 'No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.');
    const candidates = [...state.subnets.values()].filter((s) => s.vpcId === vpc.vpcId && s.defaultForAz);
    subnet = wantAz ? candidates.find((s) => s.az === wantAz) : candidates[0];
    if (!subnet) throw new Ec2Error('InvalidParameterValue', `Value (${wantAz}) for parameter availabilityZone is invalid. Subnet for zone not found in default VPC`);
  }
  const groupIds = ni0 ? ni0.list('SecurityGroupId') : p.list('SecurityGroupId');
  const groupNames = ni0 ? [] : p.list('SecurityGroup');
  if (groupNames.length && !state.vpcs.get(subnet.vpcId)?.isDefault) {
    throw new Ec2Error('InvalidParameterCombination', 'The parameter groupName cannot be used with the parameter subnet');
  }
  const sgIds = resolveGroupIds(ctx, subnet.vpcId, groupIds, groupNames, subnet.subnetId);
  const assignPublicIp = ni0?.bool('AssociatePublicIpAddress') ?? subnet.mapPublicIpOnLaunch;

  // --- everything else
  const userDataB64 = p.get('UserData');
  const userData = userDataB64 !== undefined ? decodeUserData(userDataB64) : undefined;
  const metadataOptions = readMetadataOptions(p, true);
  const bdms = readBlockDeviceMappings(p);
  const tagSpecs = readTagSpecs(p, ['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu']);
  const iam = p.sub('IamInstanceProfile');
  const iamProfile = iam.get('Arn') || iam.get('Name') ? { arn: iam.get('Arn'), name: iam.get('Name') } : undefined;
  if (iamProfile?.arn && !/^arn:aws[\w-]*:iam::\d{12}:instance-profile\/.+/.test(iamProfile.arn)) {
    throw invalidValue('iamInstanceProfile.arn', iamProfile.arn, 'Invalid IAM Instance Profile ARN');
  }
  const disableApiTermination = p.bool('DisableApiTermination') ?? false;
  const ebsOptimized = p.bool('EbsOptimized') ?? false;
  const monitoring = p.sub('Monitoring').bool('Enabled') ? 'enabled' : 'disabled';
  const cpuCredits = readCreditSpecification(p, type);
  const shutdownBehavior = p.get('InstanceInitiatedShutdownBehavior') ?? 'stop';
  if (shutdownBehavior !== 'stop' && shutdownBehavior !== 'terminate') {
    throw invalidValue('InstanceInitiatedShutdownBehavior', shutdownBehavior, "Valid values: 'stop', 'terminate'.");
  }

  const rootReq = bdms.find((b) => b.deviceName === image.rootDeviceName);
  if (rootReq?.size !== undefined && rootReq.size < image.rootSize) {
    throw new Ec2Error('InvalidBlockDeviceMapping', `Volume of size ${rootReq.size}GB is smaller than snapshot '${image.snapshotId}', expect size >= ${image.rootSize}GB`);
  }
  for (const b of bdms) {
    if (b !== rootReq && !b.noDevice && b.size === undefined && b.snapshotId === undefined) {
      throw new Ec2Error('InvalidBlockDeviceMapping', `The request must contain the parameter size or snapshotId for device ${b.deviceName}`);
    }
  }

  checkCapacity(ctx, type, maxCount, subnet.az);
  if (subnet.available < maxCount) throw new Ec2Error('InsufficientFreeAddressesInSubnet', `There are not enough free addresses in subnet '${subnet.subnetId}' to satisfy the requested number of instances.`);

  const reservationId = hexId('r');
  const created: Instance[] = [];
  for (let n = 0; n < maxCount; n++) {
    const instanceId = hexId('i');
    const volumeTags = tagSpecs.get('volume') ?? {};
    const blockDevices: Instance['blockDevices'] = [];
    const mkVolume = (deviceName: string, b: BdmRequest | undefined, isRoot: boolean) => {
      const vol: Volume = {
        volumeId: hexId('vol'),
        region: ctx.region,
        az: subnet.az,
        size: b?.size ?? image.rootSize,
        volumeType: b?.volumeType ?? (isRoot ? 'gp3' : 'gp2'),
        iops: b?.iops ?? ((b?.volumeType ?? (isRoot ? 'gp3' : 'gp2')) === 'gp3' ? 3000 : undefined),
        throughput: b?.throughput ?? ((b?.volumeType ?? (isRoot ? 'gp3' : 'gp2')) === 'gp3' ? 125 : undefined),
        encrypted: b?.encrypted ?? false,
        kmsKeyId: b?.encrypted ? (b.kmsKeyId ?? `arn:aws:kms:${ctx.region}:${ctx.state.accountId}:key/aws-ebs-default`) : undefined,
        snapshotId: isRoot ? image.snapshotId : b?.snapshotId,
        state: 'in-use',
        createTime: ctx.now,
        tags: { ...volumeTags },
        attachment: { instanceId, device: deviceName, deleteOnTermination: b?.deleteOnTermination ?? isRoot, attachTime: ctx.now, state: 'attached' },
      };
      state.volumes.set(vol.volumeId, vol);
      blockDevices.push({ deviceName, volumeId: vol.volumeId, deleteOnTermination: vol.attachment!.deleteOnTermination, attachTime: ctx.now });
    };
    if (!rootReq?.noDevice) mkVolume(image.rootDeviceName, rootReq, true);
    for (const b of bdms) if (b !== rootReq && !b.noDevice) mkVolume(b.deviceName, b, false);

    const inst: Instance = {
      instanceId,
      region: ctx.region,
      reservationId,
      ownerId: state.accountId,
      imageId,
      instanceType: type.name,
      architecture: type.arch,
      state: 'pending',
      stateSince: ctx.now,
      stateTransitionReason: '',
      launchTime: ctx.now,
      createdAt: ctx.now,
      az: subnet.az,
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      privateIp: n === 0 && (ni0?.get('PrivateIpAddress') ?? p.get('PrivateIpAddress')) ? (ni0?.get('PrivateIpAddress') ?? p.get('PrivateIpAddress'))! : state.allocatePrivateIp(subnet),
      assignPublicIp,
      securityGroupIds: sgIds,
      keyName: p.get('KeyName'),
      iamInstanceProfile: iamProfile,
      userData,
      userDataBase64: userDataB64,
      clientToken,
      tags: { ...(tagSpecs.get('instance') ?? {}) },
      metadataOptions,
      blockDevices,
      rootDeviceName: image.rootDeviceName,
      networkInterfaceId: hexId('eni'),
      macAddress: `0e:${[0, 0, 0, 0, 0].map(() => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join(':')}`,
      disableApiTermination,
      ebsOptimized,
      amiLaunchIndex: n,
      monitoring,
      ...(cpuCredits ? { cpuCredits } : {}),
      instanceInitiatedShutdownBehavior: shutdownBehavior,
    };
    state.instances.set(instanceId, inst);
    created.push(inst);
  }
  if (clientToken) state.clientTokens.set(`${ctx.region}|${clientToken}`, { fingerprint: fp, reservationId, instanceIds: created.map((i) => i.instanceId), region: ctx.region });
  return renderReservation(ctx, reservationId, created);
}

const instanceFilters = {
  'instance-id': (i: Instance) => i.instanceId,
  'instance-state-name': (i: Instance) => i.state,
  'instance-state-code': (i: Instance) => STATE_CODES[i.state],
  'instance-type': (i: Instance) => i.instanceType,
  'image-id': (i: Instance) => i.imageId,
  'vpc-id': (i: Instance) => i.vpcId,
  'subnet-id': (i: Instance) => i.subnetId,
  'availability-zone': (i: Instance) => i.az,
  'private-ip-address': (i: Instance) => i.privateIp,
  'key-name': (i: Instance) => i.keyName,
  'client-token': (i: Instance) => i.clientToken,
  'reservation-id': (i: Instance) => i.reservationId,
  architecture: (i: Instance) => i.architecture,
  'owner-id': (i: Instance) => i.ownerId,
  'root-device-type': () => 'ebs',
  tenancy: () => 'default',
  'iam-instance-profile.arn': (i: Instance) => i.iamInstanceProfile?.arn,
  'metadata-options.http-tokens': (i: Instance) => i.metadataOptions.httpTokens,
  'network-interface.network-interface-id': (i: Instance) => i.networkInterfaceId,
};

function describeInstances(ctx: Ctx): string {
  const { p, state } = ctx;
  const ids = p.list('InstanceId');
  if (ids.length && p.get('MaxResults') !== undefined) throw new Ec2Error('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
  const filters = readFilters(p);
  let list = ids.length ? lookupInstances(ctx, ids, { consistency: true }) : inRegion(ctx, state.instances);
  const withIp = (i: Instance) => state.publicIpOf(i);
  list = applyFilters(list, filters, {
    ...instanceFilters,
    'ip-address': (i) => (i.state === 'terminated' ? undefined : withIp(i)),
    'dns-name': (i) => (withIp(i) ? `ec2-${withIp(i)!.replace(/\./g, '-')}` : undefined),
    'private-dns-name': (i) => privateDns(i),
    'instance.group-id': (i) => i.securityGroupIds,
    'group-id': (i) => i.securityGroupIds,
    'instance.group-name': (i) => i.securityGroupIds.map((g) => state.securityGroups.get(g)?.groupName),
    'group-name': (i) => i.securityGroupIds.map((g) => state.securityGroups.get(g)?.groupName),
  });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 1000 }, ids.length === 0);
  // consecutive instances of one reservation share an item, like real DescribeInstances
  const reservations: Array<{ id: string; insts: Instance[] }> = [];
  for (const i of page) {
    const last = reservations[reservations.length - 1];
    if (last && last.id === i.reservationId) last.insts.push(i);
    else reservations.push({ id: i.reservationId, insts: [i] });
  }
  return items('reservationSet', reservations, (r) => renderReservation(ctx, r.id, r.insts)) + el('nextToken', nextToken);
}

function describeInstanceStatus(ctx: Ctx): string {
  const { p, state } = ctx;
  const ids = p.list('InstanceId');
  if (ids.length && p.get('MaxResults') !== undefined) throw new Ec2Error('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
  const all = p.bool('IncludeAllInstances') ?? false;
  let list = ids.length ? lookupInstances(ctx, ids, { consistency: true }) : inRegion(ctx, state.instances);
  if (!all) list = list.filter((i) => i.state === 'running');
  const status = (i: Instance) => (i.state !== 'running' ? 'not-applicable' : ctx.now - i.stateSince < 2 * ctx.controls.transitionMs ? 'initializing' : 'ok');
  list = applyFilters(list, readFilters(p), {
    'instance-state-name': (i) => i.state,
    'instance-state-code': (i) => STATE_CODES[i.state],
    'availability-zone': (i) => i.az,
    'instance-status.status': status,
    'system-status.status': status,
    'instance-status.reachability': (i) => (status(i) === 'ok' ? 'passed' : status(i) === 'initializing' ? 'initializing' : undefined),
    'system-status.reachability': (i) => (status(i) === 'ok' ? 'passed' : status(i) === 'initializing' ? 'initializing' : undefined),
  });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 1000 }, ids.length === 0);
  const summary = (i: Instance) => {
    const st = status(i);
    const details = st === 'not-applicable' ? '' : items('details', [st], (s) => el('name', 'reachability') + el('status', s === 'ok' ? 'passed' : 'initializing'));
    return el('status', st) + details;
  };
  return (
    items(
      'instanceStatusSet',
      page,
      (i) =>
        el('instanceId', i.instanceId) +
        el('availabilityZone', i.az) +
        el('availabilityZoneId', state.subnets.get(i.subnetId)?.azId) +
        node('instanceState', stateXml(i.state)) +
        node('systemStatus', summary(i)) +
        node('instanceStatus', summary(i)) +
        node('attachedEbsStatus', summary(i)),
    ) + el('nextToken', nextToken)
  );
}

function stateChanges(changes: Array<{ inst: Instance; prev: InstanceStateName }>): string {
  return items('instancesSet', changes, (c) => el('instanceId', c.inst.instanceId) + node('currentState', stateXml(c.inst.state)) + node('previousState', stateXml(c.prev)));
}

function stopInstances(ctx: Ctx): string {
  const insts = lookupInstances(ctx, ctx.p.list('InstanceId'), { consistency: false });
  const hibernate = ctx.p.bool('Hibernate') ?? false;
  for (const i of insts) {
    if (i.state === 'pending' || i.state === 'shutting-down' || i.state === 'terminated') {
      throw new Ec2Error('IncorrectInstanceState', `This instance '${i.instanceId}' is not in a state from which it can be stopped.`);
    }
    if (hibernate) throw new Ec2Error('UnsupportedHibernationConfiguration', `The instance ${i.instanceId} does not have hibernation configured. Hibernation must be enabled at launch.`);
  }
  const changes = insts.map((inst) => {
    const prev = inst.state;
    if (prev === 'running') {
      ctx.state.setState(inst, 'stopping', ctx.now, `User initiated (${new Date(ctx.now).toISOString().replace('T', ' ').slice(0, 19)} GMT)`);
    }
    return { inst, prev };
  });
  return stateChanges(changes);
}

function startInstances(ctx: Ctx): string {
  const insts = lookupInstances(ctx, ctx.p.list('InstanceId'), { consistency: false });
  for (const i of insts) {
    if (i.state === 'stopping' || i.state === 'shutting-down' || i.state === 'terminated') {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${i.instanceId}' is not in a state from which it can be started.`);
    }
  }
  for (const i of insts) if (i.state === 'stopped') checkCapacity(ctx, instanceTypeOrThrow(i.instanceType), 1, i.az, i.instanceId);
  const changes = insts.map((inst) => {
    const prev = inst.state;
    if (prev === 'stopped') {
      ctx.state.setState(inst, 'pending', ctx.now, '');
      inst.stateReason = undefined;
      inst.launchTime = ctx.now;
    }
    return { inst, prev };
  });
  return stateChanges(changes);
}

function terminateInstances(ctx: Ctx): string {
  const insts = lookupInstances(ctx, ctx.p.list('InstanceId'), { consistency: false });
  for (const i of insts) {
    if (i.disableApiTermination && i.state !== 'terminated') {
      throw new Ec2Error('OperationNotPermitted', `The instance '${i.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`);
    }
  }
  const changes = insts.map((inst) => {
    const prev = inst.state;
    if (prev !== 'terminated' && prev !== 'shutting-down') {
      ctx.state.setState(inst, 'shutting-down', ctx.now, `User initiated (${new Date(ctx.now).toISOString().replace('T', ' ').slice(0, 19)} GMT)`);
    }
    return { inst, prev };
  });
  return stateChanges(changes);
}

function rebootInstances(ctx: Ctx): string {
  const insts = lookupInstances(ctx, ctx.p.list('InstanceId'), { consistency: false });
  for (const i of insts) {
    if (i.state !== 'running') throw new Ec2Error('IncorrectInstanceState', `The instance '${i.instanceId}' is not in a state from which it can be rebooted.`);
  }
  return el('return', true);
}

const ATTRIBUTE_PARAMS: Record<string, string> = {
  InstanceType: 'instanceType',
  UserData: 'userData',
  DisableApiTermination: 'disableApiTermination',
  DisableApiStop: 'disableApiStop',
  InstanceInitiatedShutdownBehavior: 'instanceInitiatedShutdownBehavior',
  EbsOptimized: 'ebsOptimized',
  SourceDestCheck: 'sourceDestCheck',
  GroupId: 'groupSet',
  Kernel: 'kernel',
  Ramdisk: 'ramdisk',
  SriovNetSupport: 'sriovNetSupport',
  EnaSupport: 'enaSupport',
  BlockDeviceMapping: 'blockDeviceMapping',
  EnclaveOptions: 'enclaveOptions',
};

function modifyInstanceAttribute(ctx: Ctx): string {
  const { p } = ctx;
  const [inst] = lookupInstances(ctx, [p.req('InstanceId')], { consistency: true });
  const given = Object.keys(ATTRIBUTE_PARAMS).filter((k) => p.has(k));
  const attrs = given.map((k) => ATTRIBUTE_PARAMS[k]!);
  let value: string | undefined;
  if (p.get('Attribute') !== undefined) {
    attrs.push(p.get('Attribute')!);
    value = p.get('Value');
    if (value === undefined) throw missing('Value');
  } else if (given.length === 1 && given[0] !== 'GroupId' && given[0] !== 'BlockDeviceMapping') {
    value = p.sub(given[0]!).get('Value');
    if (value === undefined) throw missing(`${given[0]}.Value`);
  }
  if (attrs.length === 0) throw new Ec2Error('InvalidParameterCombination', 'No attributes specified.');
  if (attrs.length > 1) throw new Ec2Error('InvalidParameterCombination', `Fields for multiple attribute types specified: ${attrs.join(', ')}`);
  const attr = attrs[0]!;
  if (inst!.state === 'terminated' || inst!.state === 'shutting-down') {
    throw new Ec2Error('IncorrectInstanceState', `The instance '${inst!.instanceId}' is not in a state from which it can be modified.`);
  }
  const mustBeStopped = () => {
    if (inst!.state !== 'stopped') throw new Ec2Error('IncorrectInstanceState', `The instance '${inst!.instanceId}' is not in the 'stopped' state.`);
  };
  const boolValue = () => {
    if (value !== 'true' && value !== 'false') throw new Ec2Error('InvalidParameterValue', `Value (${value}) for parameter value is invalid. Expected a boolean.`);
    return value === 'true';
  };
  switch (attr) {
    case 'instanceType': {
      mustBeStopped();
      const t = INSTANCE_TYPES.find((x) => x.name === value);
      if (!t) throw new Ec2Error('InvalidInstanceAttributeValue', `Value (${value}) for parameter instanceType is invalid. Invalid instance type.`);
      if (t.arch !== inst!.architecture) {
        throw new Ec2Error('Unsupported', `The requested instance type's architecture (${t.arch}) does not match the architecture in the manifest for ${inst!.imageId} (${inst!.architecture})`);
      }
      inst!.instanceType = t.name;
      break;
    }
    case 'userData':
      mustBeStopped();
      inst!.userDataBase64 = value!;
      inst!.userData = decodeUserData(value!);
      break;
    case 'disableApiTermination':
      inst!.disableApiTermination = boolValue();
      break;
    case 'ebsOptimized':
      mustBeStopped();
      inst!.ebsOptimized = boolValue();
      break;
    case 'sourceDestCheck':
    case 'disableApiStop':
      boolValue();
      break;
    case 'instanceInitiatedShutdownBehavior':
      if (value !== 'stop' && value !== 'terminate') throw new Ec2Error('InvalidParameterValue', `Value (${value}) for parameter instanceInitiatedShutdownBehavior is invalid.`);
      inst!.instanceInitiatedShutdownBehavior = value;
      break;
    case 'groupSet': {
      const ids = p.list('GroupId');
      inst!.securityGroupIds = resolveGroupIds(ctx, inst!.vpcId, ids, [], inst!.subnetId);
      break;
    }
    default:
      throw new Ec2Error('InvalidParameterValue', `Value (${attr}) for parameter attribute is invalid. Unsupported by this emulator.`);
  }
  return el('return', true);
}

/** The attribute names DescribeInstanceAttribute accepts (its `Attribute` enum). */
const DESCRIBABLE_ATTRIBUTES = [
  'instanceType', 'kernel', 'ramdisk', 'userData', 'disableApiTermination', 'instanceInitiatedShutdownBehavior', 'rootDeviceName',
  'blockDeviceMapping', 'productCodes', 'sourceDestCheck', 'groupSet', 'ebsOptimized', 'sriovNetSupport', 'enaSupport', 'enclaveOptions', 'disableApiStop',
];

/**
 * One attribute per call, as EC2 does. userData comes back base64-encoded exactly as stored (an
 * instance without user data answers an empty <userData/>): anyone allowed this call reads it.
 */
function describeInstanceAttribute(ctx: Ctx): string {
  const { p } = ctx;
  const attribute = p.req('Attribute');
  if (!DESCRIBABLE_ATTRIBUTES.includes(attribute)) {
    throw new Ec2Error('InvalidParameterValue', `Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
  }
  const [inst] = lookupInstances(ctx, [p.req('InstanceId')], { consistency: true });
  const i = inst!;
  const value = (v: string | boolean | undefined) => node(attribute, v === undefined ? '' : el('value', v));
  let body: string;
  switch (attribute) {
    case 'userData':
      body = value(i.userDataBase64 ?? (i.userData !== undefined ? Buffer.from(i.userData, 'utf8').toString('base64') : undefined));
      break;
    case 'instanceType':
      body = value(i.instanceType);
      break;
    case 'disableApiTermination':
      body = value(i.disableApiTermination);
      break;
    case 'ebsOptimized':
      body = value(i.ebsOptimized);
      break;
    case 'rootDeviceName':
      body = value(i.rootDeviceName);
      break;
    case 'instanceInitiatedShutdownBehavior':
      body = value(i.instanceInitiatedShutdownBehavior);
      break;
    case 'groupSet':
      body = items('groupSet', i.securityGroupIds, (g) => el('groupId', g));
      break;
    default:
      throw new Ec2Error('InvalidParameterValue', `Value (${attribute}) for parameter attribute is invalid. Unsupported by this emulator.`);
  }
  return el('instanceId', i.instanceId) + body;
}

/** EC2 keeps the most recent 64 KB of an instance's console output. */
export const CONSOLE_OUTPUT_MAX_BYTES = 64 * 1024;

/** The serial console's recent output, base64-encoded; no <output> until the VM has written some. */
function getConsoleOutput(ctx: Ctx): string {
  const [inst] = lookupInstances(ctx, [ctx.p.req('InstanceId')], { consistency: true });
  const i = inst!;
  const out = i.consoleOutput ? Buffer.from(i.consoleOutput, 'utf8').toString('base64') : undefined;
  return el('instanceId', i.instanceId) + el('timestamp', iso(i.consoleAt ?? ctx.now)) + el('output', out);
}

/**
 * The credit option of burstable instances. Named ids that are not burstable are an error, as in
 * EC2; without ids, every burstable instance of the region (paged).
 */
function describeInstanceCreditSpecifications(ctx: Ctx): string {
  const { p } = ctx;
  const ids = p.list('InstanceId');
  if (ids.length && p.get('MaxResults') !== undefined) throw new Ec2Error('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
  let list = ids.length ? lookupInstances(ctx, ids, { consistency: true }) : inRegion(ctx, ctx.state.instances).filter((i) => i.cpuCredits !== undefined && i.state !== 'terminated');
  for (const i of list) {
    if (i.cpuCredits === undefined) throw new Ec2Error('InvalidParameterValue', `The instance ID '${i.instanceId}' is not a burstable performance instance.`);
  }
  list = applyFilters(list, readFilters(p), { 'instance-id': (i: Instance) => i.instanceId });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 1000 }, ids.length === 0);
  return items('instanceCreditSpecificationSet', page, (i) => el('instanceId', i.instanceId) + el('cpuCredits', i.cpuCredits)) + el('nextToken', nextToken);
}

/** Per-instance outcome, like EC2: a failure for one instance does not fail the call. */
function modifyInstanceCreditSpecification(ctx: Ctx): string {
  const specs = ctx.p.structs('InstanceCreditSpecification');
  if (!specs.length) throw missing('InstanceCreditSpecification');
  const ok: string[] = [];
  const failed: Array<{ id: string; code: string; message: string }> = [];
  for (const s of specs) {
    const id = s.req('InstanceId');
    checkId(id, 'i', 'InvalidInstanceID.Malformed');
    const credits = s.get('CpuCredits');
    if (credits !== 'standard' && credits !== 'unlimited') throw invalidValue('CpuCredits', String(credits), "Valid values: 'standard', 'unlimited'.");
    const inst = ctx.state.instances.get(id);
    if (!inst || inst.region !== ctx.region) failed.push({ id, code: 'InvalidInstanceID.NotFound', message: `The instance ID '${id}' does not exist` });
    else if (inst.cpuCredits === undefined) failed.push({ id, code: 'InvalidInstanceID.Unsupported', message: `The instance ID '${id}' is not a burstable performance instance.` });
    else if (inst.state === 'terminated' || inst.state === 'shutting-down') failed.push({ id, code: 'IncorrectInstanceState', message: `The instance '${id}' is not in a state from which it can be modified.` });
    else {
      inst.cpuCredits = credits;
      ok.push(id);
    }
  }
  return (
    items('successfulInstanceCreditSpecificationSet', ok, (id) => el('instanceId', id)) +
    items('unsuccessfulInstanceCreditSpecificationSet', failed, (f) => el('instanceId', f.id) + node('error', el('code', f.code) + el('message', f.message)))
  );
}

export const instanceActions: Record<string, ActionDef> = {
  DescribeInstanceCreditSpecifications: { handler: describeInstanceCreditSpecifications, params: ['DryRun', 'Filter', 'InstanceId', 'MaxResults', 'NextToken'] },
  ModifyInstanceCreditSpecification: { handler: modifyInstanceCreditSpecification, required: ['InstanceCreditSpecification'], params: ['DryRun', 'ClientToken', 'InstanceCreditSpecification'] },
  RunInstances: {
    handler: runInstances,
    required: ['MinCount', 'MaxCount'],
    params: ['MaxCount', 'MinCount', 'BlockDeviceMapping', 'ImageId', 'InstanceType', 'Ipv6AddressCount', 'Ipv6Address', 'KernelId', 'KeyName', 'Monitoring', 'Placement', 'RamdiskId', 'SecurityGroupId', 'SecurityGroup', 'SubnetId', 'UserData', 'ElasticGpuSpecification', 'ElasticInferenceAccelerator', 'TagSpecification', 'LaunchTemplate', 'InstanceMarketOptions', 'CreditSpecification', 'CpuOptions', 'CapacityReservationSpecification', 'HibernationOptions', 'LicenseSpecification', 'MetadataOptions', 'EnclaveOptions', 'PrivateDnsNameOptions', 'MaintenanceOptions', 'DisableApiStop', 'EnablePrimaryIpv6', 'NetworkPerformanceOptions', 'Operator', 'SecondaryInterface', 'DryRun', 'DisableApiTermination', 'InstanceInitiatedShutdownBehavior', 'PrivateIpAddress', 'ClientToken', 'AdditionalInfo', 'NetworkInterface', 'IamInstanceProfile', 'EbsOptimized'],
  },
  DescribeInstances: { handler: describeInstances, params: ['InstanceId', 'IncludeManagedResources', 'DryRun', 'Filter', 'NextToken', 'MaxResults'] },
  DescribeInstanceStatus: { handler: describeInstanceStatus, params: ['InstanceId', 'MaxResults', 'NextToken', 'IncludeManagedResources', 'DryRun', 'Filter', 'IncludeAllInstances'] },
  StopInstances: { handler: stopInstances, required: ['InstanceId'], params: ['InstanceId', 'Hibernate', 'SkipOsShutdown', 'DryRun', 'Force'] },
  StartInstances: { handler: startInstances, required: ['InstanceId'], params: ['InstanceId', 'AdditionalInfo', 'DryRun'] },
  TerminateInstances: { handler: terminateInstances, required: ['InstanceId'], params: ['InstanceId', 'Force', 'SkipOsShutdown', 'DryRun'] },
  RebootInstances: { handler: rebootInstances, required: ['InstanceId'], params: ['InstanceId', 'DryRun'] },
  GetConsoleOutput: { handler: getConsoleOutput, required: ['InstanceId'], params: ['InstanceId', 'Latest', 'DryRun'] },
  DescribeInstanceAttribute: { handler: describeInstanceAttribute, required: ['Attribute', 'InstanceId'], params: ['InstanceId', 'Attribute', 'DryRun'] },
  ModifyInstanceAttribute: {
    handler: modifyInstanceAttribute,
    required: ['InstanceId'],
    params: ['InstanceId', 'SourceDestCheck', 'EnclaveOptions', 'DisableApiStop', 'DryRun', 'Attribute', 'Value', 'BlockDeviceMapping', 'DisableApiTermination', 'InstanceType', 'Kernel', 'Ramdisk', 'UserData', 'InstanceInitiatedShutdownBehavior', 'GroupId', 'EbsOptimized', 'SriovNetSupport', 'EnaSupport'],
  },
};

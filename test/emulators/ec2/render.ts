/** XML renderings of model objects, with element names taken from the SDK's output schemas. */
import { INSTANCE_TYPES, type InstanceTypeInfo, type RegionInfo } from './catalog.js';
import { STATE_CODES, type Address, type EmulatorState, type Image, type Instance, type SecurityGroup, type SgRule, type Subnet, type Volume, type Vpc } from './model.js';
import { el, iso, items, node, scalarItems, tagSet } from './xml.js';

const dnsSuffix = (region: string) => (region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`);
export const privateDns = (inst: Instance) => `ip-${inst.privateIp.replace(/\./g, '-')}.${dnsSuffix(inst.region)}`;
export const publicDns = (region: string, ip: string | undefined) =>
  ip ? `ec2-${ip.replace(/\./g, '-')}.${region === 'us-east-1' ? 'compute-1' : `${region}.compute`}.amazonaws.com` : '';

export function stateXml(name: keyof typeof STATE_CODES): string {
  return el('code', STATE_CODES[name]) + el('name', name);
}

export function renderInstance(s: EmulatorState, inst: Instance): string {
  const publicIp = inst.state === 'terminated' ? undefined : s.publicIpOf(inst);
  const groups = inst.securityGroupIds.map((id) => ({ id, name: s.securityGroups.get(id)?.groupName ?? id }));
  const groupSet = items('groupSet', groups, (g) => el('groupId', g.id) + el('groupName', g.name));
  const terminated = inst.state === 'terminated';
  const eip = [...s.addresses.values()].find((a) => a.instanceId === inst.instanceId);
  const type = INSTANCE_TYPES.find((t) => t.name === inst.instanceType);
  return (
    el('instanceId', inst.instanceId) +
    el('imageId', inst.imageId) +
    node('instanceState', stateXml(inst.state)) +
    el('privateDnsName', terminated ? '' : privateDns(inst)) +
    el('dnsName', publicDns(inst.region, publicIp)) +
    el('reason', inst.stateTransitionReason) +
    el('keyName', inst.keyName) +
    el('amiLaunchIndex', inst.amiLaunchIndex) +
    node('productCodes', '') +
    el('instanceType', inst.instanceType) +
    el('launchTime', iso(inst.launchTime)) +
    node('placement', el('availabilityZoneId', azIdOf(s, inst)) + el('availabilityZone', inst.az) + el('groupName', '') + el('tenancy', 'default')) +
    node('monitoring', el('state', inst.monitoring)) +
    (terminated ? '' : el('subnetId', inst.subnetId) + el('vpcId', inst.vpcId) + el('privateIpAddress', inst.privateIp)) +
    el('ipAddress', publicIp) +
    el('sourceDestCheck', terminated ? undefined : true) +
    groupSet +
    (inst.stateReason ? node('stateReason', el('code', inst.stateReason.code) + el('message', inst.stateReason.message)) : '') +
    el('architecture', inst.architecture) +
    el('rootDeviceType', 'ebs') +
    el('rootDeviceName', inst.rootDeviceName) +
    items(
      'blockDeviceMapping',
      terminated ? [] : inst.blockDevices,
      (bd) =>
        el('deviceName', bd.deviceName) +
        node('ebs', el('volumeId', bd.volumeId) + el('status', 'attached') + el('attachTime', iso(bd.attachTime)) + el('deleteOnTermination', bd.deleteOnTermination)),
    ) +
    el('virtualizationType', 'hvm') +
    el('clientToken', inst.clientToken) +
    tagSet(inst.tags) +
    el('hypervisor', 'xen') /* real EC2 reports 'xen' for Nitro instances too */ +
    items('networkInterfaceSet', terminated ? [] : [inst], () =>
      el('networkInterfaceId', inst.networkInterfaceId) +
      el('subnetId', inst.subnetId) +
      el('vpcId', inst.vpcId) +
      el('description', '') +
      el('ownerId', inst.ownerId) +
      el('status', 'in-use') +
      el('macAddress', inst.macAddress) +
      el('privateIpAddress', inst.privateIp) +
      el('privateDnsName', privateDns(inst)) +
      el('sourceDestCheck', true) +
      items('groupSet', groups, (g) => el('groupId', g.id) + el('groupName', g.name)) +
      node('attachment', el('attachmentId', `eni-attach-${inst.networkInterfaceId.slice(4)}`) + el('deviceIndex', 0) + el('status', 'attached') + el('attachTime', iso(inst.createdAt)) + el('deleteOnTermination', true) + el('networkCardIndex', 0)) +
      (publicIp
        ? node('association', el('publicIp', publicIp) + el('publicDnsName', publicDns(inst.region, publicIp)) + el('ipOwnerId', eip ? inst.ownerId : 'amazon'))
        : '') +
      items('privateIpAddressesSet', [inst], () =>
        el('privateIpAddress', inst.privateIp) +
        el('privateDnsName', privateDns(inst)) +
        el('primary', true) +
        (publicIp ? node('association', el('publicIp', publicIp) + el('publicDnsName', publicDns(inst.region, publicIp)) + el('ipOwnerId', eip ? inst.ownerId : 'amazon')) : ''),
      ) +
      el('interfaceType', 'interface'),
    ) +
    (inst.iamInstanceProfile
      ? node('iamInstanceProfile', el('arn', inst.iamInstanceProfile.arn ?? `arn:aws:iam::${inst.ownerId}:instance-profile/${inst.iamInstanceProfile.name}`) + el('id', `AIPA${inst.instanceId.slice(2, 19).toUpperCase()}`))
      : '') +
    el('ebsOptimized', inst.ebsOptimized) +
    el('enaSupport', true) +
    node('cpuOptions', el('coreCount', Math.max(1, (type?.vcpus ?? 2) / 2)) + el('threadsPerCore', (type?.vcpus ?? 2) > 1 ? 2 : 1)) +
    node('hibernationOptions', el('configured', false)) +
    node(
      'metadataOptions',
      el('state', inst.state === 'pending' ? 'pending' : 'applied') +
        el('httpTokens', inst.metadataOptions.httpTokens) +
        el('httpPutResponseHopLimit', inst.metadataOptions.httpPutResponseHopLimit) +
        el('httpEndpoint', inst.metadataOptions.httpEndpoint) +
        el('httpProtocolIpv6', inst.metadataOptions.httpProtocolIpv6) +
        el('instanceMetadataTags', inst.metadataOptions.instanceMetadataTags),
    ) +
    node('enclaveOptions', el('enabled', false)) +
    el('bootMode', inst.architecture === 'arm64' ? 'uefi' : 'legacy-bios') +
    el('platformDetails', 'Linux/UNIX') +
    el('usageOperation', 'RunInstances') +
    el('usageOperationUpdateTime', iso(inst.createdAt)) +
    node('privateDnsNameOptions', el('hostnameType', 'ip-name') + el('enableResourceNameDnsARecord', false) + el('enableResourceNameDnsAAAARecord', false)) +
    node('maintenanceOptions', el('autoRecovery', 'default')) +
    el('currentInstanceBootMode', inst.architecture === 'arm64' ? 'uefi' : 'legacy-bios')
  );
}

function azIdOf(s: EmulatorState, inst: Instance): string | undefined {
  return s.subnets.get(inst.subnetId)?.azId;
}

/** Groups individual rules into EC2's IpPermission shape (one item per protocol/port range). */
export function ipPermissionsXml(name: string, s: EmulatorState, rules: SgRule[]): string {
  const groups = new Map<string, SgRule[]>();
  for (const r of rules) {
    const k = `${r.protocol}|${r.fromPort ?? ''}|${r.toPort ?? ''}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return items(name, [...groups.values()], (rs) => {
    const r0 = rs[0]!;
    return (
      el('ipProtocol', r0.protocol) +
      el('fromPort', r0.fromPort) +
      el('toPort', r0.toPort) +
      items('groups', rs.filter((r) => r.referencedGroupId), (r) => el('description', r.description) + el('userId', s.accountId) + el('groupId', r.referencedGroupId)) +
      items('ipRanges', rs.filter((r) => r.cidrIpv4), (r) => el('description', r.description) + el('cidrIp', r.cidrIpv4)) +
      items('ipv6Ranges', rs.filter((r) => r.cidrIpv6), (r) => el('description', r.description) + el('cidrIpv6', r.cidrIpv6)) +
      items('prefixListIds', rs.filter((r) => r.prefixListId), (r) => el('description', r.description) + el('prefixListId', r.prefixListId))
    );
  });
}

export function renderSecurityGroup(s: EmulatorState, g: SecurityGroup): string {
  return (
    el('ownerId', g.ownerId) +
    el('groupId', g.groupId) +
    el('groupName', g.groupName) +
    el('groupDescription', g.description) +
    ipPermissionsXml('ipPermissions', s, g.ingress) +
    ipPermissionsXml('ipPermissionsEgress', s, g.egress) +
    el('vpcId', g.vpcId) +
    el('securityGroupArn', `arn:aws:ec2:${g.region}:${g.ownerId}:security-group/${g.groupId}`) +
    tagSet(g.tags)
  );
}

export function renderRule(s: EmulatorState, g: SecurityGroup, r: SgRule, egress: boolean): string {
  return (
    el('securityGroupRuleId', r.ruleId) +
    el('groupId', g.groupId) +
    el('groupOwnerId', g.ownerId) +
    el('isEgress', egress) +
    el('ipProtocol', r.protocol) +
    el('fromPort', r.fromPort ?? -1) +
    el('toPort', r.toPort ?? -1) +
    el('cidrIpv4', r.cidrIpv4) +
    el('cidrIpv6', r.cidrIpv6) +
    el('prefixListId', r.prefixListId) +
    (r.referencedGroupId ? node('referencedGroupInfo', el('groupId', r.referencedGroupId) + el('userId', s.accountId)) : '') +
    el('description', r.description) +
    tagSet(r.tags) +
    el('securityGroupRuleArn', `arn:aws:ec2:${g.region}:${g.ownerId}:security-group-rule/${r.ruleId}`)
  );
}

export function renderAddress(a: Address, accountId: string): string {
  return (
    el('publicIp', a.publicIp) +
    el('allocationId', a.allocationId) +
    el('domain', a.domain) +
    el('instanceId', a.instanceId) +
    el('associationId', a.associationId) +
    el('networkInterfaceId', a.networkInterfaceId) +
    el('networkInterfaceOwnerId', a.networkInterfaceId ? accountId : undefined) +
    el('privateIpAddress', a.privateIp) +
    tagSet(a.tags) +
    el('publicIpv4Pool', 'amazon') +
    el('networkBorderGroup', a.region)
  );
}

export function renderImage(img: Image): string {
  return (
    el('imageId', img.imageId) +
    el('imageLocation', `${img.ownerAlias ?? img.ownerId}/${img.name}`) +
    el('imageState', img.state) +
    el('imageOwnerId', img.ownerId) +
    el('creationDate', img.creationDate) +
    el('isPublic', img.public) +
    el('architecture', img.architecture) +
    el('imageType', 'machine') +
    el('platformDetails', 'Linux/UNIX') +
    el('usageOperation', 'RunInstances') +
    el('imageOwnerAlias', img.ownerAlias) +
    el('name', img.name) +
    el('description', img.description) +
    el('rootDeviceType', 'ebs') +
    el('rootDeviceName', img.rootDeviceName) +
    items('blockDeviceMapping', [img], () =>
      el('deviceName', img.rootDeviceName) +
      node('ebs', el('snapshotId', img.snapshotId) + el('volumeSize', img.rootSize) + el('deleteOnTermination', true) + el('volumeType', 'gp3') + el('encrypted', false)),
    ) +
    el('virtualizationType', 'hvm') +
    tagSet(img.tags) +
    el('hypervisor', 'xen') +
    el('enaSupport', true) +
    el('sriovNetSupport', 'simple') +
    el('bootMode', img.architecture === 'arm64' ? 'uefi' : 'uefi-preferred') +
    el('imdsSupport', 'v2.0') +
    el('deprecationTime', img.deprecationTime)
  );
}

export function renderVpc(v: Vpc): string {
  return (
    el('vpcId', v.vpcId) +
    el('ownerId', v.ownerId) +
    el('state', v.state) +
    el('cidrBlock', v.cidrBlock) +
    items('cidrBlockAssociationSet', [v], () => el('cidrBlock', v.cidrBlock) + el('associationId', v.cidrAssociationId) + node('cidrBlockState', el('state', 'associated'))) +
    el('dhcpOptionsId', v.dhcpOptionsId) +
    tagSet(v.tags) +
    el('instanceTenancy', 'default') +
    el('isDefault', v.isDefault) +
    node('blockPublicAccessStates', el('internetGatewayBlockMode', 'off'))
  );
}

export function renderSubnet(sn: Subnet): string {
  return (
    el('subnetId', sn.subnetId) +
    el('subnetArn', `arn:aws:ec2:${sn.region}:${sn.ownerId}:subnet/${sn.subnetId}`) +
    el('state', sn.state) +
    el('ownerId', sn.ownerId) +
    el('vpcId', sn.vpcId) +
    el('cidrBlock', sn.cidrBlock) +
    node('ipv6CidrBlockAssociationSet', '') +
    el('availableIpAddressCount', sn.available) +
    el('availabilityZone', sn.az) +
    el('availabilityZoneId', sn.azId) +
    el('defaultForAz', sn.defaultForAz) +
    el('mapPublicIpOnLaunch', sn.mapPublicIpOnLaunch) +
    el('assignIpv6AddressOnCreation', false) +
    el('ipv6Native', false) +
    el('enableDns64', false) +
    el('mapCustomerOwnedIpOnLaunch', false) +
    tagSet(sn.tags) +
    node('privateDnsNameOptionsOnLaunch', el('hostnameType', 'ip-name') + el('enableResourceNameDnsARecord', false) + el('enableResourceNameDnsAAAARecord', false)) +
    node('blockPublicAccessStates', el('internetGatewayBlockMode', 'off'))
  );
}

export function renderVolume(v: Volume, accountId: string): string {
  return (
    el('volumeId', v.volumeId) +
    el('size', v.size) +
    el('snapshotId', v.snapshotId ?? '') +
    el('availabilityZone', v.az) +
    el('status', v.state) +
    el('createTime', iso(v.createTime)) +
    items('attachmentSet', v.attachment ? [v.attachment] : [], (a) =>
      el('volumeId', v.volumeId) + el('instanceId', a.instanceId) + el('device', a.device) + el('status', a.state) + el('attachTime', iso(a.attachTime)) + el('deleteOnTermination', a.deleteOnTermination),
    ) +
    el('volumeType', v.volumeType) +
    el('iops', v.iops) +
    el('throughput', v.throughput) +
    el('encrypted', v.encrypted) +
    el('kmsKeyId', v.kmsKeyId) +
    tagSet(v.tags) +
    el('multiAttachEnabled', false) +
    el('ownerId', accountId) +
    el('volumeArn', `arn:aws:ec2:${v.region}:${accountId}:volume/${v.volumeId}`)
  );
}

export function renderInstanceType(t: InstanceTypeInfo): string {
  const cores = Math.max(1, t.vcpus / (t.arch === 'arm64' || t.vcpus === 1 ? 1 : 2));
  const tpc = t.vcpus / cores;
  return (
    el('instanceType', t.name) +
    el('currentGeneration', true) +
    el('freeTierEligible', !!t.freeTier) +
    scalarItems('supportedUsageClasses', ['on-demand', 'spot']) +
    scalarItems('supportedRootDeviceTypes', ['ebs']) +
    scalarItems('supportedVirtualizationTypes', ['hvm']) +
    el('bareMetal', false) +
    el('hypervisor', t.hypervisor) +
    node(
      'processorInfo',
      scalarItems('supportedArchitectures', [t.arch]) + el('sustainedClockSpeedInGhz', t.clockGhz) + el('manufacturer', t.manufacturer),
    ) +
    node('vCpuInfo', el('defaultVCpus', t.vcpus) + el('defaultCores', cores) + el('defaultThreadsPerCore', tpc)) +
    node('memoryInfo', el('sizeInMiB', t.memMiB)) +
    el('instanceStorageSupported', false) +
    node('ebsInfo', el('ebsOptimizedSupport', 'default') + el('encryptionSupport', 'supported') + el('nvmeSupport', t.hypervisor === 'nitro' ? 'required' : 'unsupported')) +
    node(
      'networkInfo',
      el('networkPerformance', t.network) +
        el('maximumNetworkInterfaces', t.vcpus >= 4 ? 4 : 3) +
        el('maximumNetworkCards', 1) +
        el('defaultNetworkCardIndex', 0) +
        el('ipv4AddressesPerInterface', t.vcpus >= 4 ? 15 : 12) +
        el('ipv6AddressesPerInterface', t.vcpus >= 4 ? 15 : 12) +
        el('ipv6Supported', true) +
        el('enaSupport', t.hypervisor === 'nitro' ? 'required' : 'unsupported') +
        el('efaSupported', false) +
        el('encryptionInTransitSupported', false),
    ) +
    node('placementGroupInfo', scalarItems('supportedStrategies', ['partition', 'spread'])) +
    el('hibernationSupported', t.arch === 'x86_64') +
    el('burstablePerformanceSupported', t.burstable) +
    el('dedicatedHostsSupported', !t.burstable) +
    el('autoRecoverySupported', true) +
    scalarItems('supportedBootModes', t.arch === 'arm64' ? ['uefi'] : ['legacy-bios', 'uefi']) +
    el('nitroEnclavesSupport', t.burstable ? 'unsupported' : 'supported') +
    el('nitroTpmSupport', t.hypervisor === 'nitro' ? 'supported' : 'unsupported') +
    el('phcSupport', 'unsupported')
  );
}

export function renderRegion(r: RegionInfo): string {
  return el('regionName', r.name) + el('regionEndpoint', `ec2.${r.name}.amazonaws.com`) + el('optInStatus', r.optIn);
}

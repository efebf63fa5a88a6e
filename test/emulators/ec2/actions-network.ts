/** Security groups and rules; Elastic IP addresses. */
import { checkId, inRegion, paginate, uniq, type ActionDef, type Ctx } from './context.js';
import { Ec2Error, missing, notFoundList } from './errors.js';
import { hexId, type Address, type SecurityGroup, type SgRule } from './model.js';
import { applyFilters, readFilters, readTagSpecs, type Params } from './params.js';
import { ipPermissionsXml, renderAddress, renderRule, renderSecurityGroup } from './render.js';
import { el, items, tagSet } from './xml.js';
import { lookupInstances } from './actions-instances.js';
import { markCreated, notVisibleYet } from './consistency.js';

const NAME_CHARS = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;
const MAX_RULES = 60;

function findGroup(ctx: Ctx, id: string): SecurityGroup {
  checkId(id, 'sg', 'InvalidGroupId.Malformed');
  const g = ctx.state.securityGroups.get(id);
  if (!g || g.region !== ctx.region || notVisibleYet(ctx, id)) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
  return g;
}

function findGroupByName(ctx: Ctx, name: string): SecurityGroup {
  const vpc = ctx.state.defaultVpc(ctx.region);
  if (!vpc) throw new Ec2Error('VPCIdNotSpecified', 'No default VPC for this user');
  const g = [...ctx.state.securityGroups.values()].find((x) => x.vpcId === vpc.vpcId && x.groupName === name);
  if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist in default VPC '${vpc.vpcId}'`);
  return g;
}

/** The security groups an instance ends up with (ids or names must exist in the subnet's VPC; none → the VPC's default group). */
export function resolveGroupIds(ctx: Ctx, vpcId: string, ids: string[], names: string[], subnetId: string): string[] {
  const out: string[] = [];
  for (const id of ids) {
    checkId(id, 'sg', 'InvalidGroupId.Malformed');
    const g = ctx.state.securityGroups.get(id);
    if (!g || g.region !== ctx.region) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist in VPC '${vpcId}'`);
    if (g.vpcId !== vpcId) throw new Ec2Error('InvalidParameter', `Security group ${id} and subnet ${subnetId} belong to different networks.`);
    out.push(id);
  }
  for (const name of names) {
    const g = [...ctx.state.securityGroups.values()].find((x) => x.vpcId === vpcId && x.groupName === name);
    if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist in VPC '${vpcId}'`);
    out.push(g.groupId);
  }
  if (out.length === 0) {
    const def = [...ctx.state.securityGroups.values()].find((x) => x.vpcId === vpcId && x.isDefault);
    if (def) out.push(def.groupId);
  }
  if (uniq(out).length > 5) throw new Ec2Error('SecurityGroupsPerInstanceLimitExceeded', 'The maximum number of security groups per interface has been reached.');
  return uniq(out);
}

// ---------------------------------------------------------------- rules

function normProtocol(raw: string): string {
  const p = raw.toLowerCase();
  const named: Record<string, string> = { tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', icmp: 'icmp', '1': 'icmp', icmpv6: 'icmpv6', '58': 'icmpv6', '-1': '-1', all: '-1' };
  if (p in named) return named[p]!;
  if (/^\d+$/.test(p) && Number(p) <= 255) return p;
  throw new Ec2Error('InvalidParameterValue', `Invalid value '${raw}' for IP protocol. Unknown protocol.`);
}

function checkCidr4(c: string): void {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(c);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) throw new Ec2Error('InvalidParameterValue', `CIDR block ${c} is malformed`);
}
function checkCidr6(c: string): void {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(c);
  if (!m || !m[1]!.includes(':') || Number(m[2]) > 128) throw new Ec2Error('InvalidParameterValue', `CIDR block ${c} is malformed`);
}
function checkRuleDescription(d: string | undefined): void {
  if (d === undefined) return;
  if (d.length > 255 || !NAME_CHARS.test(d)) {
    throw new Ec2Error('InvalidParameterValue', 'Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*');
  }
}

type RuleInput = Omit<SgRule, 'ruleId' | 'tags'>;

function readPorts(p: Params, protocol: string): { fromPort?: number; toPort?: number } {
  if (protocol === '-1') return {};
  const from = p.int('FromPort');
  const to = p.int('ToPort');
  if (protocol === 'tcp' || protocol === 'udp') {
    if (from === undefined || to === undefined) throw new Ec2Error('InvalidParameterValue', `Invalid value for portRange. Must specify both from and to ports with TCP/UDP.`);
    if (from < 0 || to > 65535 || from > to) throw new Ec2Error('InvalidParameterValue', `Invalid value for portRange. Valid ranges are 0-65535 and FromPort must not exceed ToPort (got ${from}-${to}).`);
    return { fromPort: from, toPort: to };
  }
  if (protocol === 'icmp' || protocol === 'icmpv6') return { fromPort: from ?? -1, toPort: to ?? -1 };
  return {};
}

/** Expands IpPermissions.N (or the legacy flat parameters) into one rule per source. */
function readRules(ctx: Ctx, p: Params, target: SecurityGroup): RuleInput[] {
  const out: RuleInput[] = [];
  const perms = p.structs('IpPermissions');
  if (perms.length === 0 && p.get('IpProtocol') !== undefined) {
    const protocol = normProtocol(p.get('IpProtocol')!);
    const ports = readPorts(p, protocol);
    const cidr = p.get('CidrIp');
    const srcName = p.get('SourceSecurityGroupName');
    if (cidr) {
      checkCidr4(cidr);
      out.push({ protocol, ...ports, cidrIpv4: cidr });
    }
    if (srcName) out.push({ protocol, ...ports, referencedGroupId: findGroupByName(ctx, srcName).groupId });
    if (!out.length) throw missing('CidrIp');
    return out;
  }
  if (perms.length === 0 && p.get('SourceSecurityGroupName') !== undefined) {
    const g = findGroupByName(ctx, p.get('SourceSecurityGroupName')!);
    return ['tcp', 'udp', 'icmp'].map((protocol) => ({ protocol, ...(protocol === 'icmp' ? { fromPort: -1, toPort: -1 } : { fromPort: 0, toPort: 65535 }), referencedGroupId: g.groupId }));
  }
  if (perms.length === 0) throw missing('IpPermissions');
  for (const perm of perms) {
    const protocol = normProtocol(perm.req('IpProtocol'));
    const ports = readPorts(perm, protocol);
    const before = out.length;
    for (const r of perm.structs('IpRanges')) {
      const cidr = r.req('CidrIp');
      checkCidr4(cidr);
      checkRuleDescription(r.get('Description'));
      out.push({ protocol, ...ports, cidrIpv4: cidr, description: r.get('Description') });
    }
    for (const r of perm.structs('Ipv6Ranges')) {
      const cidr = r.req('CidrIpv6');
      checkCidr6(cidr);
      checkRuleDescription(r.get('Description'));
      out.push({ protocol, ...ports, cidrIpv6: cidr, description: r.get('Description') });
    }
    for (const r of perm.structs('PrefixListIds')) {
      const id = r.req('PrefixListId');
      checkId(id, 'pl', 'InvalidPrefixListId.Malformed');
      checkRuleDescription(r.get('Description'));
      out.push({ protocol, ...ports, prefixListId: id, description: r.get('Description') });
    }
    for (const r of perm.structs('Groups')) {
      const gid = r.get('GroupId');
      const g = gid ? findGroup(ctx, gid) : findGroupByName(ctx, r.req('GroupName'));
      if (g.vpcId !== target.vpcId) throw new Ec2Error('InvalidGroup.NotFound', `You have specified two resources that belong to different networks.`);
      checkRuleDescription(r.get('Description'));
      out.push({ protocol, ...ports, referencedGroupId: g.groupId, description: r.get('Description') });
    }
    if (out.length === before) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ipRanges, ipv6Ranges, prefixListIds or groups');
  }
  return out;
}

const sameRule = (a: RuleInput, b: RuleInput) =>
  a.protocol === b.protocol &&
  a.fromPort === b.fromPort &&
  a.toPort === b.toPort &&
  a.cidrIpv4 === b.cidrIpv4 &&
  a.cidrIpv6 === b.cidrIpv6 &&
  a.prefixListId === b.prefixListId &&
  a.referencedGroupId === b.referencedGroupId;

function describeRule(r: RuleInput): string {
  const peer = r.cidrIpv4 ?? r.cidrIpv6 ?? r.prefixListId ?? r.referencedGroupId;
  const proto = r.protocol === '-1' ? 'ALL' : r.protocol.toUpperCase();
  return `peer: ${peer}, ${proto}, from port: ${r.fromPort ?? 'ALL'}, to port: ${r.toPort ?? 'ALL'}, ALLOW`;
}

function groupFromParams(ctx: Ctx, egress: boolean): SecurityGroup {
  const { p } = ctx;
  const id = p.get('GroupId');
  if (id) return findGroup(ctx, id);
  if (!egress && p.get('GroupName')) return findGroupByName(ctx, p.get('GroupName')!);
  throw new Ec2Error('MissingParameter', egress ? 'The request must contain the parameter groupId' : 'The request must contain the parameter groupName or groupId');
}

function authorize(egress: boolean) {
  return (ctx: Ctx): string => {
    const g = groupFromParams(ctx, egress);
    const rules = readRules(ctx, ctx.p, g);
    const tags = readTagSpecs(ctx.p, ['security-group-rule']).get('security-group-rule') ?? {};
    const existing = egress ? g.egress : g.ingress;
    rules.forEach((r, i) => {
      if (existing.some((e) => sameRule(e, r)) || rules.slice(0, i).some((e) => sameRule(e, r))) {
        throw new Ec2Error('InvalidPermission.Duplicate', `the specified rule "${describeRule(r)}" already exists`);
      }
    });
    if (existing.length + rules.length > MAX_RULES) throw new Ec2Error('RulesPerSecurityGroupLimitExceeded', 'The maximum number of rules per security group has been reached.');
    const added = rules.map((r) => ({ ...r, ruleId: hexId('sgr'), tags: { ...tags } }));
    existing.push(...added);
    return el('return', true) + items('securityGroupRuleSet', added, (r) => renderRule(ctx.state, g, r, egress));
  };
}

function revoke(egress: boolean) {
  return (ctx: Ctx): string => {
    const g = groupFromParams(ctx, egress);
    const existing = egress ? g.egress : g.ingress;
    const ruleIds = ctx.p.list('SecurityGroupRuleId');
    const removed: SgRule[] = [];
    const unknown: RuleInput[] = [];
    if (ruleIds.length) {
      for (const id of ruleIds) {
        const r = existing.find((x) => x.ruleId === id);
        if (!r) throw new Ec2Error('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist`);
        removed.push(r);
      }
    } else {
      for (const want of readRules(ctx, ctx.p, g)) {
        const r = existing.find((x) => sameRule(x, want));
        if (r) removed.push(r);
        else unknown.push(want);
      }
    }
    const keep = existing.filter((r) => !removed.includes(r));
    if (egress) g.egress = keep;
    else g.ingress = keep;
    return (
      el('return', unknown.length === 0) +
      (unknown.length ? ipPermissionsXml('unknownIpPermissionSet', ctx.state, unknown.map((u) => ({ ...u, ruleId: '', tags: {} }))) : '') +
      items(
        'revokedSecurityGroupRuleSet',
        removed,
        (r) =>
          el('securityGroupRuleId', r.ruleId) +
          el('groupId', g.groupId) +
          el('isEgress', egress) +
          el('ipProtocol', r.protocol) +
          el('fromPort', r.fromPort ?? -1) +
          el('toPort', r.toPort ?? -1) +
          el('cidrIpv4', r.cidrIpv4) +
          el('cidrIpv6', r.cidrIpv6) +
          el('prefixListId', r.prefixListId) +
          el('referencedGroupId', r.referencedGroupId) +
          el('description', r.description),
      )
    );
  };
}

// ---------------------------------------------------------------- groups

function createSecurityGroup(ctx: Ctx): string {
  const { p, state } = ctx;
  const name = p.req('GroupName');
  const description = p.req('GroupDescription');
  if (name.length > 255 || !NAME_CHARS.test(name)) throw new Ec2Error('InvalidParameterValue', `Value (${name}) for parameter GroupName is invalid. Character sets beyond ASCII are not supported.`);
  if (description.length > 255 || !NAME_CHARS.test(description)) {
    throw new Ec2Error('InvalidParameterValue', `Value (${description}) for parameter GroupDescription is invalid. Character sets beyond ASCII are not supported.`);
  }
  if (name === 'default') throw new Ec2Error('InvalidGroup.Reserved', `The security group 'default' is reserved`);
  if (/^sg-/i.test(name)) throw new Ec2Error('InvalidParameterValue', `Value (${name}) for parameter GroupName is invalid. Group names may not be in the format sg-*.`);
  let vpcId = p.get('VpcId');
  if (vpcId) {
    checkId(vpcId, 'vpc', 'InvalidVpcID.Malformed');
    const vpc = state.vpcs.get(vpcId);
    if (!vpc || vpc.region !== ctx.region) throw new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
  } else {
    const vpc = state.defaultVpc(ctx.region);
    if (!vpc) throw new Ec2Error('VPCIdNotSpecified', 'No default VPC for this user');
    vpcId = vpc.vpcId;
  }
  if ([...state.securityGroups.values()].some((g) => g.vpcId === vpcId && g.groupName === name)) {
    throw new Ec2Error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpcId}'`);
  }
  const tags = readTagSpecs(p, ['security-group']).get('security-group') ?? {};
  const g: SecurityGroup = {
    groupId: hexId('sg'),
    region: ctx.region,
    groupName: name,
    description,
    vpcId,
    ownerId: state.accountId,
    tags,
    ingress: [],
    egress: [{ ruleId: hexId('sgr'), protocol: '-1', cidrIpv4: '0.0.0.0/0', tags: {} }],
    isDefault: false,
  };
  state.securityGroups.set(g.groupId, g);
  markCreated(ctx, g.groupId);
  return el('groupId', g.groupId) + tagSet(g.tags) + el('securityGroupArn', `arn:aws:ec2:${g.region}:${g.ownerId}:security-group/${g.groupId}`);
}

function describeSecurityGroups(ctx: Ctx): string {
  const { p, state } = ctx;
  const ids = p.list('GroupId');
  const names = p.list('GroupName');
  if ((ids.length || names.length) && p.get('MaxResults') !== undefined) {
    throw new Ec2Error('InvalidParameterCombination', 'The parameter groupIds cannot be used with the parameter maxResults');
  }
  let list: SecurityGroup[];
  if (ids.length || names.length) {
    const missingIds: string[] = [];
    list = [];
    for (const id of uniq(ids)) {
      checkId(id, 'sg', 'InvalidGroupId.Malformed');
      const g = state.securityGroups.get(id);
      if (!g || g.region !== ctx.region || notVisibleYet(ctx, id)) missingIds.push(id);
      else list.push(g);
    }
    if (missingIds.length) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${missingIds.join("', '")}' does not exist`);
    for (const n of uniq(names)) list.push(findGroupByName(ctx, n));
    list = uniq(list);
  } else list = inRegion(ctx, state.securityGroups);
  const perm = (pick: (r: SgRule) => unknown, egress = false) => (g: SecurityGroup) => (egress ? g.egress : g.ingress).map((r) => pick(r) as string | number | undefined);
  list = applyFilters(list, readFilters(p), {
    'group-id': (g) => g.groupId,
    'group-name': (g) => g.groupName,
    'vpc-id': (g) => g.vpcId,
    description: (g) => g.description,
    'owner-id': (g) => g.ownerId,
    'ip-permission.protocol': perm((r) => r.protocol),
    'ip-permission.from-port': perm((r) => r.fromPort),
    'ip-permission.to-port': perm((r) => r.toPort),
    'ip-permission.cidr': perm((r) => r.cidrIpv4),
    'ip-permission.ipv6-cidr': perm((r) => r.cidrIpv6),
    'ip-permission.group-id': perm((r) => r.referencedGroupId),
    'ip-permission.prefix-list-id': perm((r) => r.prefixListId),
    'egress.ip-permission.protocol': perm((r) => r.protocol, true),
    'egress.ip-permission.cidr': perm((r) => r.cidrIpv4, true),
  });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 1000 }, !(ids.length || names.length));
  return items('securityGroupInfo', page, (g) => renderSecurityGroup(state, g)) + el('nextToken', nextToken);
}

function deleteSecurityGroup(ctx: Ctx): string {
  const { p, state } = ctx;
  const id = p.get('GroupId');
  const name = p.get('GroupName');
  if (!id && !name) throw new Ec2Error('MissingParameter', 'The request must contain the parameter groupName or groupId');
  const g = id ? findGroup(ctx, id) : findGroupByName(ctx, name!);
  if (g.isDefault) throw new Ec2Error('CannotDelete', `the specified group: "${g.groupId}" name: "default" cannot be deleted by a user`);
  const inUse = [...state.instances.values()].some((i) => i.state !== 'terminated' && i.securityGroupIds.includes(g.groupId));
  const referenced = [...state.securityGroups.values()].some(
    (o) => o.groupId !== g.groupId && [...o.ingress, ...o.egress].some((r) => r.referencedGroupId === g.groupId),
  );
  if (inUse || referenced) throw new Ec2Error('DependencyViolation', `resource ${g.groupId} has a dependent object`);
  state.securityGroups.delete(g.groupId);
  return el('return', true) + el('groupId', g.groupId);
}

// ---------------------------------------------------------------- addresses

function findAddress(ctx: Ctx, allocationId: string | undefined, publicIp: string | undefined): Address {
  if (allocationId) {
    checkId(allocationId, 'eipalloc', 'InvalidAllocationID.Malformed');
    const a = ctx.state.addresses.get(allocationId);
    if (!a || a.region !== ctx.region || notVisibleYet(ctx, allocationId)) throw new Ec2Error('InvalidAllocationID.NotFound', `The allocation ID '${allocationId}' does not exist`);
    return a;
  }
  if (publicIp) {
    const a = inRegion(ctx, ctx.state.addresses).find((x) => x.publicIp === publicIp);
    if (!a) throw new Ec2Error('InvalidAddress.NotFound', `Address '${publicIp}' not found.`);
    return a;
  }
  throw new Ec2Error('MissingParameter', 'The request must contain the parameter AllocationId');
}

function allocateAddress(ctx: Ctx): string {
  const { p, state } = ctx;
  const domain = p.get('Domain') ?? 'vpc';
  if (domain !== 'vpc') throw new Ec2Error('InvalidParameterValue', `Value (${domain}) for parameter domain is invalid. EC2-Classic is retired; use 'vpc'.`);
  const tags = readTagSpecs(p, ['elastic-ip']).get('elastic-ip') ?? {};
  if (inRegion(ctx, state.addresses).length >= ctx.controls.addressLimit) throw new Ec2Error('AddressLimitExceeded', 'The maximum number of addresses has been reached.');
  const a: Address = { allocationId: hexId('eipalloc'), region: ctx.region, publicIp: state.allocateElasticIp(), domain: 'vpc', tags };
  state.addresses.set(a.allocationId, a);
  markCreated(ctx, a.allocationId);
  return el('publicIp', a.publicIp) + el('domain', a.domain) + el('allocationId', a.allocationId) + el('publicIpv4Pool', 'amazon') + el('networkBorderGroup', a.region);
}

function detach(ctx: Ctx, a: Address): void {
  const inst = a.instanceId ? ctx.state.instances.get(a.instanceId) : undefined;
  a.associationId = a.instanceId = a.networkInterfaceId = a.privateIp = undefined;
  if (inst && inst.state === 'running' && inst.assignPublicIp && !ctx.state.publicIpOf(inst)) inst.ephemeralPublicIp = ctx.state.allocatePublicIp();
}

function associateAddress(ctx: Ctx): string {
  const { p, state } = ctx;
  const a = findAddress(ctx, p.get('AllocationId'), p.get('PublicIp'));
  const instanceId = p.get('InstanceId');
  const eniId = p.get('NetworkInterfaceId');
  if (!instanceId && !eniId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter instanceId or networkInterfaceId');
  const inst = instanceId
    ? lookupInstances(ctx, [instanceId], { consistency: true })[0]!
    : [...state.instances.values()].find((i) => i.networkInterfaceId === eniId && i.region === ctx.region && i.state !== 'terminated');
  if (!inst) throw new Ec2Error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${eniId}' does not exist`);
  if (inst.state === 'pending' || inst.state === 'shutting-down' || inst.state === 'terminated') {
    throw new Ec2Error('InvalidInstanceID', `The ${inst.state} instance '${inst.instanceId}' is not in a valid state for this operation.`);
  }
  if (a.instanceId && a.instanceId !== inst.instanceId && p.bool('AllowReassociation') === false) {
    throw new Ec2Error('Resource.AlreadyAssociated', `resource ${a.allocationId} is already associated with associate-id ${a.associationId}`);
  }
  if (a.instanceId) detach(ctx, a);
  for (const other of state.addresses.values()) if (other.instanceId === inst.instanceId) detach(ctx, other);
  a.associationId = hexId('eipassoc');
  a.instanceId = inst.instanceId;
  a.networkInterfaceId = inst.networkInterfaceId;
  a.privateIp = p.get('PrivateIpAddress') ?? inst.privateIp;
  inst.ephemeralPublicIp = undefined;
  return el('return', true) + el('associationId', a.associationId);
}

function disassociateAddress(ctx: Ctx): string {
  const { p, state } = ctx;
  const assoc = p.get('AssociationId');
  let a: Address | undefined;
  if (assoc) {
    a = inRegion(ctx, state.addresses).find((x) => x.associationId === assoc);
    if (!a) throw new Ec2Error('InvalidAssociationID.NotFound', `The association ID '${assoc}' does not exist`);
  } else {
    const ip = p.get('PublicIp');
    if (!ip) throw new Ec2Error('MissingParameter', 'The request must contain the parameter AssociationId');
    a = findAddress(ctx, undefined, ip);
    if (!a.associationId) throw new Ec2Error('InvalidAssociationID.NotFound', `The address '${ip}' is not associated`);
  }
  detach(ctx, a);
  return el('return', true);
}

function releaseAddress(ctx: Ctx): string {
  const a = findAddress(ctx, ctx.p.get('AllocationId'), ctx.p.get('PublicIp'));
  if (a.associationId) throw new Ec2Error('InvalidIPAddress.InUse', `Address ${a.publicIp} is in use.`);
  ctx.state.addresses.delete(a.allocationId);
  return el('return', true);
}

function describeAddresses(ctx: Ctx): string {
  const { p, state } = ctx;
  const allocIds = p.list('AllocationId');
  const ips = p.list('PublicIp');
  let list = inRegion(ctx, state.addresses);
  if (allocIds.length || ips.length) {
    const picked = new Set<Address>();
    const missingIds: string[] = [];
    for (const id of allocIds) {
      checkId(id, 'eipalloc', 'InvalidAllocationID.Malformed');
      const a = state.addresses.get(id);
      if (!a || a.region !== ctx.region || notVisibleYet(ctx, id)) missingIds.push(id);
      else picked.add(a);
    }
    if (missingIds.length) throw notFoundList('InvalidAllocationID.NotFound', 'allocation', missingIds);
    for (const ip of ips) picked.add(findAddress(ctx, undefined, ip));
    list = [...picked];
  }
  list = applyFilters(list, readFilters(p), {
    'allocation-id': (a) => a.allocationId,
    'association-id': (a) => a.associationId,
    domain: (a) => a.domain,
    'instance-id': (a) => a.instanceId,
    'network-interface-id': (a) => a.networkInterfaceId,
    'network-interface-owner-id': (a) => (a.networkInterfaceId ? state.accountId : undefined),
    'private-ip-address': (a) => a.privateIp,
    'public-ip': (a) => a.publicIp,
    'network-border-group': (a) => a.region,
  });
  return items('addressesSet', list, (a) => renderAddress(a, state.accountId));
}

const SG_RULE_PARAMS = ['CidrIp', 'FromPort', 'GroupId', 'GroupName', 'IpPermissions', 'IpProtocol', 'SourceSecurityGroupName', 'SourceSecurityGroupOwnerId', 'ToPort'];

export const networkActions: Record<string, ActionDef> = {
  CreateSecurityGroup: { handler: createSecurityGroup, required: ['GroupName', 'GroupDescription'], params: ['GroupDescription', 'GroupName', 'VpcId', 'TagSpecification', 'DryRun'] },
  DescribeSecurityGroups: { handler: describeSecurityGroups, params: ['GroupId', 'GroupName', 'NextToken', 'MaxResults', 'DryRun', 'Filter'] },
  DeleteSecurityGroup: { handler: deleteSecurityGroup, params: ['GroupId', 'GroupName', 'DryRun'] },
  AuthorizeSecurityGroupIngress: { handler: authorize(false), params: [...SG_RULE_PARAMS, 'TagSpecification', 'DryRun'] },
  RevokeSecurityGroupIngress: { handler: revoke(false), params: [...SG_RULE_PARAMS, 'SecurityGroupRuleId', 'DryRun'] },
  AuthorizeSecurityGroupEgress: { handler: authorize(true), required: ['GroupId'], params: [...SG_RULE_PARAMS.filter((x) => x !== 'GroupName'), 'TagSpecification', 'DryRun'] },
  RevokeSecurityGroupEgress: { handler: revoke(true), required: ['GroupId'], params: [...SG_RULE_PARAMS.filter((x) => x !== 'GroupName'), 'SecurityGroupRuleId', 'DryRun'] },
  AllocateAddress: { handler: allocateAddress, params: ['Domain', 'Address', 'PublicIpv4Pool', 'NetworkBorderGroup', 'CustomerOwnedIpv4Pool', 'TagSpecification', 'IpamPoolId', 'DryRun'] },
  AssociateAddress: { handler: associateAddress, params: ['AllocationId', 'InstanceId', 'PublicIp', 'DryRun', 'NetworkInterfaceId', 'PrivateIpAddress', 'AllowReassociation'] },
  DisassociateAddress: { handler: disassociateAddress, params: ['AssociationId', 'PublicIp', 'DryRun'] },
  ReleaseAddress: { handler: releaseAddress, params: ['AllocationId', 'PublicIp', 'NetworkBorderGroup', 'DryRun'] },
  DescribeAddresses: { handler: describeAddresses, params: ['PublicIp', 'DryRun', 'Filter', 'AllocationId'] },
};


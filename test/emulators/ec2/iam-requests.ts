/**
 * What IAM is asked for each EC2 call: the (action, resource ARN) pairs EC2 authorizes, with the
 * condition keys it supplies for each (from AWS's Service Authorization Reference for EC2). The
 * resources a call refers to are looked up leniently: an unknown id yields no request here, and
 * the action's handler then answers …NotFound as EC2 does.
 */
import type { Ctx } from './context.js';
import type { AuthorizationRequest } from './iam-policy.js';
import type { Params } from './params.js';
import type { Tags } from './model.js';
import { taggableResources } from './actions-tags.js';

type Context = AuthorizationRequest['context'];

function requestTags(tags: Tags | undefined): Context {
  const ctx: Context = { 'aws:TagKeys': Object.keys(tags ?? {}) };
  for (const [k, v] of Object.entries(tags ?? {})) ctx[`aws:RequestTag/${k}`] = v;
  return ctx;
}

function resourceTags(tags: Tags): Context {
  const ctx: Context = {};
  // EC2 supplies a resource's tags under both its own key and the global aws:ResourceTag key.
  for (const [k, v] of Object.entries(tags)) {
    ctx[`ec2:ResourceTag/${k}`] = v;
    ctx[`aws:ResourceTag/${k}`] = v;
  }
  return ctx;
}

/** TagSpecification.N → resource type → tags, without validation (the handler validates). */
function tagSpecs(p: Params): Map<string, Tags> {
  const out = new Map<string, Tags>();
  for (const spec of p.structs('TagSpecification')) {
    const tags: Tags = {};
    for (const t of spec.structs('Tag')) if (t.get('Key') !== undefined) tags[t.get('Key')!] = t.get('Value') ?? '';
    out.set(spec.get('ResourceType') ?? '', tags);
  }
  return out;
}

export function authorizationRequests(ctx: Ctx): AuthorizationRequest[] {
  const { p, state, region, action } = ctx;
  const account = ctx.controls.accountId;
  const arn = (type: string, id: string, acct = account) => `arn:aws:ec2:${region}:${acct}:${type}/${id}`;
  const ec2Action = `ec2:${action}`;
  const out: AuthorizationRequest[] = [];
  const add = (resource: string, context: Context = {}, a = ec2Action) => out.push({ action: a, resource, context: { 'ec2:Region': region, ...context } });
  const specs = tagSpecs(p);
  /** tag-on-create: EC2 also authorizes ec2:CreateTags on each resource the call tags */
  const tagOnCreate = (type: string, tags: Tags | undefined) => {
    if (tags && Object.keys(tags).length) add(arn(type, '*'), { ...requestTags(tags), 'ec2:CreateAction': action }, 'ec2:CreateTags');
  };
  const group = (id: string | undefined) => (id ? state.securityGroups.get(id) : undefined);
  const instance = (id: string | undefined) => (id ? state.instances.get(id) : undefined);
  const address = (id: string | undefined) => (id ? state.addresses.get(id) : undefined);

  // Reads without resource-level permissions (Resource "*"); GetConsoleOutput has them (below).
  if (action.startsWith('Describe') || (action.startsWith('Get') && action !== 'GetConsoleOutput')) {
    add('*');
    return out;
  }
  switch (action) {
    case 'RunInstances': {
      const image = state.images.get(p.get('ImageId') ?? '');
      const nis = p.structs('NetworkInterface');
      const ni0 = nis.find((n) => n.get('DeviceIndex') === '0') ?? nis[0];
      const subnetId = ni0 ? ni0.get('SubnetId') : p.get('SubnetId');
      const vpc = state.defaultVpc(region);
      const subnet = subnetId ? state.subnets.get(subnetId) : [...state.subnets.values()].find((s) => s.vpcId === vpc?.vpcId && s.defaultForAz);
      const given = ni0 ? ni0.list('SecurityGroupId') : p.list('SecurityGroupId');
      // No group named: the instance gets its VPC's default group, and that is what IAM checks.
      const groups = given.length ? given.map(group) : [...state.securityGroups.values()].filter((g) => g.vpcId === subnet?.vpcId && g.isDefault);
      const httpTokens = p.sub('MetadataOptions').get('HttpTokens') ?? 'required'; // the emulator's images are IMDSv2-only
      add(arn('instance', '*'), {
        ...requestTags(specs.get('instance')),
        'ec2:InstanceType': p.get('InstanceType') ?? 'm1.small',
        'ec2:MetadataHttpTokens': httpTokens,
        'ec2:MetadataHttpPutResponseHopLimit': p.sub('MetadataOptions').get('HttpPutResponseHopLimit') ?? '2',
        'ec2:RootDeviceType': 'ebs',
      });
      add(arn('volume', '*'), requestTags(specs.get('volume')));
      add(arn('network-interface', '*'), { ...requestTags(specs.get('network-interface')), ...(subnet ? { 'ec2:Subnet': arn('subnet', subnet.subnetId), 'ec2:Vpc': arn('vpc', subnet.vpcId) } : {}) });
      if (image) {
        // ec2:Owner is "amazon" for Amazon's own images, else the owning account's id.
        add(`arn:aws:ec2:${region}::image/${image.imageId}`, { ...resourceTags(image.tags), 'ec2:Owner': image.ownerAlias === 'amazon' ? 'amazon' : image.ownerId, 'ec2:Public': String(image.public) });
      }
      if (subnet) add(arn('subnet', subnet.subnetId), { ...resourceTags(subnet.tags), 'ec2:Vpc': arn('vpc', subnet.vpcId) });
      for (const g of groups) if (g) add(arn('security-group', g.groupId), { ...resourceTags(g.tags), 'ec2:Vpc': arn('vpc', g.vpcId) });
      for (const type of ['instance', 'volume', 'network-interface']) tagOnCreate(type, specs.get(type));
      return out;
    }
    case 'CreateSecurityGroup': {
      add(arn('security-group', '*'), requestTags(specs.get('security-group')));
      const vpc = p.get('VpcId') ? state.vpcs.get(p.get('VpcId')!) : state.defaultVpc(region);
      if (vpc) add(arn('vpc', vpc.vpcId), resourceTags(vpc.tags));
      tagOnCreate('security-group', specs.get('security-group'));
      return out;
    }
    case 'AllocateAddress':
      add(arn('elastic-ip', '*'), requestTags(specs.get('elastic-ip')));
      tagOnCreate('elastic-ip', specs.get('elastic-ip'));
      return out;
    case 'AuthorizeSecurityGroupIngress':
    case 'RevokeSecurityGroupIngress':
    case 'DeleteSecurityGroup': {
      const g = group(p.get('GroupId')) ?? [...state.securityGroups.values()].find((x) => x.region === region && x.groupName === p.get('GroupName'));
      if (g) add(arn('security-group', g.groupId), resourceTags(g.tags));
      if (action === 'AuthorizeSecurityGroupIngress') add(arn('security-group-rule', '*'), requestTags(specs.get('security-group-rule')));
      return out;
    }
    case 'StartInstances':
    case 'StopInstances':
    case 'TerminateInstances':
    case 'RebootInstances':
      for (const i of p.list('InstanceId').map(instance)) if (i) add(arn('instance', i.instanceId), { ...resourceTags(i.tags), 'ec2:InstanceType': i.instanceType });
      return out;
    case 'GetConsoleOutput': {
      const i = instance(p.get('InstanceId'));
      if (i) add(arn('instance', i.instanceId), { ...resourceTags(i.tags), 'ec2:InstanceType': i.instanceType });
      return out;
    }
    case 'ModifyInstanceAttribute': {
      const i = instance(p.get('InstanceId'));
      const newType = p.sub('InstanceType').get('Value') ?? (p.get('Attribute') === 'instanceType' ? p.get('Value') : undefined);
      // ec2:InstanceType is the instance's current type; the new value is ec2:Attribute/InstanceType.
      if (i) add(arn('instance', i.instanceId), { ...resourceTags(i.tags), 'ec2:InstanceType': i.instanceType, ...(newType ? { 'ec2:Attribute/InstanceType': newType } : {}) });
      return out;
    }
    case 'ModifyInstanceCreditSpecification':
      for (const sp of p.structs('InstanceCreditSpecification')) {
        const i = instance(sp.get('InstanceId'));
        if (i) add(arn('instance', i.instanceId), { ...resourceTags(i.tags), 'ec2:InstanceType': i.instanceType });
      }
      return out;
    case 'AssociateAddress': {
      const a = address(p.get('AllocationId'));
      if (a) add(arn('elastic-ip', a.allocationId), resourceTags(a.tags));
      const i = instance(p.get('InstanceId'));
      if (i) add(arn('instance', i.instanceId), { ...resourceTags(i.tags), 'ec2:InstanceType': i.instanceType });
      return out;
    }
    case 'DisassociateAddress': {
      const a = [...state.addresses.values()].find((x) => x.associationId === p.get('AssociationId'));
      if (a) add(arn('elastic-ip', a.allocationId), resourceTags(a.tags));
      return out;
    }
    case 'ReleaseAddress': {
      const a = address(p.get('AllocationId'));
      if (a) add(arn('elastic-ip', a.allocationId), resourceTags(a.tags));
      return out;
    }
    case 'CreateTags':
    case 'DeleteTags': {
      // Tagging an existing resource: each named resource with its current tags, plus the keys (and,
      // for CreateTags, values) in the request. DeleteTags without a Tag removes every tag: its keys count.
      const asked: Tags = {};
      for (const t of p.structs('Tag')) if (t.get('Key') !== undefined) asked[t.get('Key')!] = t.get('Value') ?? '';
      const all = taggableResources(state).filter((r) => r.region === region);
      for (const id of p.list('ResourceId')) {
        const r = all.find((x) => x.id === id);
        if (!r) continue;
        const keys = Object.keys(asked).length ? asked : action === 'DeleteTags' ? r.tags : asked;
        const request = action === 'CreateTags' ? requestTags(asked) : { 'aws:TagKeys': Object.keys(keys) };
        add(arn(r.type, r.id), { ...resourceTags(r.tags), ...request });
      }
      return out;
    }
    default:
      // Any other call: the action on every resource it names, untagged context (enough to deny it).
      add('*');
      return out;
  }
}

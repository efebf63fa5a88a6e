/** CreateTags, DeleteTags, DescribeTags over every taggable resource of the model. */
import { paginate, type ActionDef, type Ctx } from './context.js';
import { Ec2Error, missing } from './errors.js';
import type { EmulatorState, Tags } from './model.js';
import { applyFilters, readFilters, readTags, validateTag } from './params.js';
import { lookupInstances } from './actions-instances.js';
import { el, items } from './xml.js';

export interface TaggedResource {
  id: string;
  type: string;
  tags: Tags;
  region: string;
  state?: string;
}

/** Every live resource that can carry tags (terminated instances included: they keep their tags while visible). */
export function taggableResources(s: EmulatorState): TaggedResource[] {
  const out: TaggedResource[] = [];
  for (const i of s.instances.values()) out.push({ id: i.instanceId, type: 'instance', tags: i.tags, region: i.region, state: i.state });
  for (const g of s.securityGroups.values()) {
    out.push({ id: g.groupId, type: 'security-group', tags: g.tags, region: g.region });
    for (const r of [...g.ingress, ...g.egress]) out.push({ id: r.ruleId, type: 'security-group-rule', tags: r.tags, region: g.region });
  }
  for (const a of s.addresses.values()) out.push({ id: a.allocationId, type: 'elastic-ip', tags: a.tags, region: a.region, state: a.associationId ? 'associated' : 'unassociated' });
  for (const v of s.volumes.values()) out.push({ id: v.volumeId, type: 'volume', tags: v.tags, region: v.region, state: v.state });
  for (const v of s.vpcs.values()) out.push({ id: v.vpcId, type: 'vpc', tags: v.tags, region: v.region });
  for (const sn of s.subnets.values()) out.push({ id: sn.subnetId, type: 'subnet', tags: sn.tags, region: sn.region });
  for (const img of s.images.values()) out.push({ id: img.imageId, type: 'image', tags: img.tags, region: img.region });
  return out;
}

const NOT_FOUND: Array<[string, string, (id: string) => string]> = [
  ['sgr-', 'InvalidSecurityGroupRuleId.NotFound', (id) => `The security group rule ID '${id}' does not exist`],
  ['sg-', 'InvalidGroup.NotFound', (id) => `The security group '${id}' does not exist`],
  ['eipalloc-', 'InvalidAllocationID.NotFound', (id) => `The allocation ID '${id}' does not exist`],
  ['vol-', 'InvalidVolume.NotFound', (id) => `The volume '${id}' does not exist.`],
  ['vpc-', 'InvalidVpcID.NotFound', (id) => `The vpc ID '${id}' does not exist`],
  ['subnet-', 'InvalidSubnetID.NotFound', (id) => `The subnet ID '${id}' does not exist`],
  ['ami-', 'InvalidAMIID.NotFound', (id) => `The image id '[${id}]' does not exist`],
];

function resolve(ctx: Ctx, ids: string[]): TaggedResource[] {
  const all = taggableResources(ctx.state).filter((r) => r.region === ctx.region);
  return ids.map((id) => {
    if (id.startsWith('i-')) {
      const [inst] = lookupInstances(ctx, [id], { consistency: true });
      return { id, type: 'instance', tags: inst!.tags, region: inst!.region };
    }
    const r = all.find((x) => x.id === id);
    if (r) return r;
    const nf = NOT_FOUND.find(([prefix]) => id.startsWith(prefix));
    if (nf) throw new Ec2Error(nf[1], nf[2](id));
    throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
  });
}

function createTags(ctx: Ctx): string {
  const ids = ctx.p.list('ResourceId');
  if (!ids.length) throw missing('ResourceId');
  const tags = readTags(ctx.p, 'Tag');
  if (!Object.keys(tags).length) throw missing('Tag');
  const targets = resolve(ctx, ids);
  for (const t of targets) {
    if (Object.keys({ ...t.tags, ...tags }).length > 50) throw new Ec2Error('TagLimitExceeded', `The maximum number of Tags for a resource has been reached.`);
  }
  for (const t of targets) Object.assign(t.tags, tags);
  return el('return', true);
}

function deleteTags(ctx: Ctx): string {
  const ids = ctx.p.list('ResourceId');
  if (!ids.length) throw missing('ResourceId');
  const specs = ctx.p.structs('Tag').map((t) => {
    validateTag(t.get('Key'), t.get('Value'), t.prefix.slice(0, -1));
    return { key: t.get('Key')!, value: t.get('Value') };
  });
  for (const t of resolve(ctx, ids)) {
    if (!specs.length) for (const k of Object.keys(t.tags)) delete t.tags[k];
    for (const s of specs) if (s.key in t.tags && (s.value === undefined || t.tags[s.key] === s.value)) delete t.tags[s.key];
  }
  return el('return', true);
}

function describeTags(ctx: Ctx): string {
  const rows = taggableResources(ctx.state)
    .filter((r) => r.region === ctx.region && !(r.type === 'instance' && r.state === 'terminated'))
    .flatMap((r) => Object.entries(r.tags).map(([key, value]) => ({ ...r, key, value, tags: { [key]: value } })));
  const list = applyFilters(rows, readFilters(ctx.p), {
    'resource-id': (r) => r.id,
    'resource-type': (r) => r.type,
    key: (r) => r.key,
    value: (r) => r.value,
  });
  const { page, nextToken } = paginate(ctx, list, { min: 5, max: 1000 });
  return items('tagSet', page, (r) => el('resourceId', r.id) + el('resourceType', r.type) + el('key', r.key) + el('value', r.value)) + el('nextToken', nextToken);
}

export const tagActions: Record<string, ActionDef> = {
  CreateTags: { handler: createTags, required: ['ResourceId', 'Tag'], params: ['ResourceId', 'Tag', 'DryRun'] },
  DeleteTags: { handler: deleteTags, required: ['ResourceId'], params: ['ResourceId', 'DryRun', 'Tag'] },
  DescribeTags: { handler: describeTags, params: ['DryRun', 'Filter', 'MaxResults', 'NextToken'] },
};

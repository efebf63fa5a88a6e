/**
 * Where an instance type can launch, as real EC2 decides it: a type is offered only in some zones
 * of a region (DescribeInstanceTypeOfferings; RunInstances into another zone answers 400
 * Unsupported), and an offered zone can run out of capacity for a type (500
 * InsufficientInstanceCapacity, whose message lists the zones that have capacity).
 *
 * By default us-east-1e offers no t3 type (as on AWS, where that zone lacks most current types);
 * tests mark zones out of capacity with the emulator's `zoneWithoutCapacity`.
 */
import { INSTANCE_TYPES } from './catalog.js';
import { paginate, type ActionDef, type Ctx } from './context.js';
import { Ec2Error } from './errors.js';
import { applyFilters, readFilters } from './params.js';
import { el, items } from './xml.js';

export interface CapacityControls {
  /** zone names (e.g. us-east-1e) that do not offer an instance type, by type name */
  notOffered: Map<string, Set<string>>;
  /** zone names out of capacity for a type, by type name */
  noCapacity: Map<string, Set<string>>;
}

export function defaultCapacityControls(): CapacityControls {
  const notOffered = new Map<string, Set<string>>();
  for (const t of INSTANCE_TYPES) if (t.name.startsWith('t3.')) notOffered.set(t.name, new Set(['us-east-1e']));
  return { notOffered, noCapacity: new Map() };
}

const zonesOf = (ctx: Ctx): string[] => ctx.state.regionInfo(ctx.region)!.zones.map((z) => ctx.region + z);
const offeredIn = (c: CapacityControls, type: string, zone: string) => !c.notOffered.get(type)?.has(zone);

/** RunInstances/StartInstances of `type` in `zone`: Unsupported when not offered there, else a capacity error when the zone is out. */
export function checkZoneCapacity(ctx: Ctx, c: CapacityControls, type: string, zone: string): void {
  const offered = zonesOf(ctx).filter((z) => offeredIn(c, type, z));
  if (!offered.includes(zone)) {
    throw new Ec2Error(
      'Unsupported',
      `Your requested instance type (${type}) is not supported in your requested Availability Zone (${zone}). Please retry your request by not specifying an Availability Zone or choosing ${offered.join(', ')}.`,
    );
  }
  if (c.noCapacity.get(type)?.has(zone)) {
    const others = offered.filter((z) => z !== zone && !c.noCapacity.get(type)?.has(z));
    throw new Ec2Error(
      'InsufficientInstanceCapacity',
      `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity. You can currently get ${type} capacity by not specifying an Availability Zone in your request or choosing ${others.join(', ')}.`,
      500,
    );
  }
}

export const offeringActions: Record<string, ActionDef> = {
    DescribeInstanceTypeOfferings: {
      params: ['DryRun', 'LocationType', 'Filter', 'MaxResults', 'NextToken'],
      handler: (ctx) => {
        const locationType = ctx.p.get('LocationType') ?? 'region';
        if (!['region', 'availability-zone', 'availability-zone-id'].includes(locationType)) {
          throw new Ec2Error('InvalidParameterValue', `Value (${locationType}) for parameter locationType is invalid.`);
        }
        const info = ctx.state.regionInfo(ctx.region)!;
        const zoneId = (zone: string) => `${info.zoneIdPrefix}-az${info.zones.indexOf(zone.slice(ctx.region.length)) + 1}`;
        let offers = INSTANCE_TYPES.flatMap((t) =>
          locationType === 'region'
            ? [{ type: t.name, location: ctx.region }]
            : zonesOf(ctx)
                .filter((z) => offeredIn(ctx.controls.capacity, t.name, z))
                .map((z) => ({ type: t.name, location: locationType === 'availability-zone' ? z : zoneId(z) })),
        );
        offers = applyFilters(offers, readFilters(ctx.p), { 'instance-type': (o) => o.type, location: (o) => o.location });
        const { page, nextToken } = paginate(ctx, offers, { min: 5, max: 1000 });
        return (
          items('instanceTypeOfferingSet', page, (o) => el('instanceType', o.type) + el('locationType', locationType) + el('location', o.location)) +
          el('nextToken', nextToken)
        );
      },
    },
};

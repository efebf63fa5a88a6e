import type { CostLine, Plan } from '../model/deployment.js';
import { HOURS_PER_MONTH } from './catalog.js';

/**
 * Cloudflare Containers prices (provider `cloudflare`): billed per second while an instance runs,
 * for its provisioned memory and disk and for the CPU it uses, on top of the Workers Paid plan
 * (which includes a monthly allowance of each). Nothing is billed while an instance sleeps.
 *
 * Source: developers.cloudflare.com/containers/pricing and /platform/limits, read 2026-12-07.
 * CPU is charged on active use; the estimate counts the whole vCPU share as busy (an upper bound
 * for a crawler that idles between requests).
 */
export const CONTAINER_PRICE_DATE = '2026-12-07';
export const WORKERS_PAID_USD_PER_MONTH = 5;
export const CONTAINER_RATES = {
  vcpuSecondUsd: 0.00002,
  memoryGiBSecondUsd: 0.0000025,
  diskGBSecondUsd: 0.00000007,
  /** included each month with Workers Paid */
  included: { vcpuSeconds: 375 * 60, memoryGiBSeconds: 25 * 3600, diskGBSeconds: 200 * 3600 },
} as const;

export interface ContainerInstanceType {
  name: string;
  vcpu: number;
  memoryGiB: number;
  diskGB: number;
}

/** The predefined instance types with >= 4 GiB (Crawl4AI's need); lite and basic are too small. */
export const CONTAINER_INSTANCE_TYPES: Readonly<Record<string, ContainerInstanceType>> = {
  'standard-1': { name: 'standard-1', vcpu: 0.5, memoryGiB: 4, diskGB: 8 },
  'standard-2': { name: 'standard-2', vcpu: 1, memoryGiB: 6, diskGB: 12 },
  'standard-3': { name: 'standard-3', vcpu: 2, memoryGiB: 8, diskGB: 16 },
  'standard-4': { name: 'standard-4', vcpu: 4, memoryGiB: 12, diskGB: 20 },
};

/** USD per hour one instance of `type` costs while it runs (before the included allowance). */
export function containerHourlyUsd(type: ContainerInstanceType): number {
  const r = CONTAINER_RATES;
  return 3600 * (type.vcpu * r.vcpuSecondUsd + type.memoryGiB * r.memoryGiBSecondUsd + type.diskGB * r.diskGBSecondUsd);
}

const cents = (n: number) => Math.round(n * 100) / 100;
const fmt = (n: number, digits: number) => n.toFixed(digits).replace(/\.?0+$/, '');

export interface ContainerEstimateInput {
  instanceType: string;
  /** instances running at the same time while active */
  instances: number;
  /** hours a day the container is awake (it sleeps otherwise) */
  hoursPerDay: number;
}

/**
 * A month of a Container awake `hoursPerDay` hours a day, as Plan['cost']: the Workers Paid plan,
 * then vCPU, memory and disk (each after the included allowance). "Stopped" costs the plan only.
 */
export function estimateContainerMonthly(input: ContainerEstimateInput): Plan['cost'] {
  const type = CONTAINER_INSTANCE_TYPES[input.instanceType];
  if (!type) throw new Error(`no prices for container instance type ${input.instanceType}`);
  if (!(input.hoursPerDay >= 0 && input.hoursPerDay <= 24)) throw new Error('hoursPerDay must be between 0 and 24');
  const seconds = (HOURS_PER_MONTH * input.hoursPerDay * 3600 * Math.max(1, input.instances)) / 24;
  const r = CONTAINER_RATES;
  const line = (item: string, amount: number, included: number, rate: number, unit: string): CostLine => {
    const billed = Math.max(0, amount - included);
    return { item, monthlyUsd: cents(billed * rate), detail: `${fmt(amount / 3600, 1)} ${unit}-h, ${fmt(included / 3600, 1)} included, then $${rate}/${unit}-s` };
  };
  const lines: CostLine[] = [
    { item: 'Workers Paid plan', monthlyUsd: WORKERS_PAID_USD_PER_MONTH, detail: 'required for Containers (also covers the Worker)' },
    line('container vCPU', seconds * type.vcpu, r.included.vcpuSeconds, r.vcpuSecondUsd, 'vCPU'),
    line('container memory', seconds * type.memoryGiB, r.included.memoryGiBSeconds, r.memoryGiBSecondUsd, 'GiB'),
    line('container disk', seconds * type.diskGB, r.included.diskGBSeconds, r.diskGBSecondUsd, 'GB'),
  ];
  return {
    lines,
    monthlyUsd: cents(lines.reduce((s, l) => s + l.monthlyUsd, 0)),
    stoppedMonthlyUsd: WORKERS_PAID_USD_PER_MONTH,
    priceDate: CONTAINER_PRICE_DATE,
    sources: ['https://developers.cloudflare.com/containers/pricing/'],
    excludes: [
      `${type.name} x ${Math.max(1, input.instances)} awake ${fmt(input.hoursPerDay, 1)} h/day; CPU counted as fully busy (it is billed on active use)`,
      'egress beyond the included 1 TB (NA/EU)',
      'Workers requests beyond the 10 million included',
      'taxes',
    ],
  };
}

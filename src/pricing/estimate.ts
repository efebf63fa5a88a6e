import { usageError } from '../ground/errors.js';
import type { CostLine, CpuCreditCost, CpuCredits, Plan, ProviderName, SizeName } from '../model/deployment.js';
import { HOURS_PER_MONTH, PRICE_DATE, PRICING, regionPricing, sizeSpec, T3_SURPLUS_CREDIT_USD_PER_VCPU_HOUR } from './catalog.js';

export interface EstimateInput {
  provider: ProviderName;
  region: string;
  size: SizeName;
  diskGiB: number;
  /** the VM has a public IPv4 address (both network modes need one for outbound traffic) */
  publicIpv4: boolean;
  /**
   * the address is static and kept while the VM is stopped (public mode: the hostname points at
   * it). Default: true whenever publicIpv4 is. An ephemeral address (tunnel mode can use one) is
   * released on stop and costs nothing then.
   */
  staticIpv4?: boolean;
  /** burstable sizes that bill bursts (AWS T3): the credit option; default 'standard' */
  cpuCredits?: CpuCredits;
}

/** What every estimate leaves out, whatever the cloud. */
export const COMMON_EXCLUDES: readonly string[] = [
  'data transfer out of the cloud (egress)',
  'Cloudflare Workers usage beyond the free tier',
  'taxes',
];

interface Rates {
  instanceType: string;
  computePerHour: number;
  diskPerMonth: number;
  diskDetail: string;
  ipInUsePerHour: number;
  ipReservedPerHour: number;
  ipDetail: string;
  excludes: string[];
}

function rates(input: EstimateInput): Rates {
  const spec = sizeSpec(input.provider, input.size);
  const region = regionPricing(input.provider, input.region);
  if (!Number.isFinite(input.diskGiB) || input.diskGiB <= 0) {
    throw usageError(`invalid disk size ${input.diskGiB} GiB`, 'give a positive number of GiB');
  }
  const p = PRICING[input.provider];
  const diskRate = p.disk.usdPerGiBMonth * region.storage;
  const hasIp = input.publicIpv4;
  const staticIp = hasIp && (input.staticIpv4 ?? true);
  return {
    instanceType: spec.instanceType,
    computePerHour: spec.hourlyUsd * region.compute,
    diskPerMonth: input.diskGiB * diskRate,
    diskDetail: `${input.diskGiB} GiB ${p.disk.kind} at $${fmt(diskRate, 4)}/GiB-month`,
    ipInUsePerHour: hasIp ? p.ipv4.inUse : 0,
    ipReservedPerHour: staticIp ? p.ipv4.reserved : 0,
    ipDetail: `1 ${p.ipv4.detail}${staticIp ? '' : '; ephemeral, released while stopped'}`,
    excludes: [...COMMON_EXCLUDES, ...p.excludes],
  };
}

const cents = (n: number) => Math.round(n * 100) / 100;
/** fixed digits without trailing zeros: 0.0800 -> "0.08", 100.0 -> "100" */
const fmt = (n: number, digits: number) => {
  const s = n.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
};

/**
 * Monthly cost of a deployment that runs all month (730 h), as Plan['cost']: compute, disk and
 * public IPv4 lines (each rounded to cents; the totals are the sums of the lines), the cost while
 * stopped (disk, plus a static address), the price date and what the estimate excludes.
 * An unknown region or size is a usage error (exit code 2) that lists the known ones.
 */
export function estimateMonthly(input: EstimateInput): Plan['cost'] {
  const r = rates(input);
  const lines: CostLine[] = [
    {
      item: 'compute',
      monthlyUsd: cents(r.computePerHour * HOURS_PER_MONTH),
      detail: `${r.instanceType} on-demand, $${fmt(r.computePerHour, 4)}/h x ${HOURS_PER_MONTH} h in ${input.region}`,
    },
    { item: 'disk', monthlyUsd: cents(r.diskPerMonth), detail: r.diskDetail },
  ];
  if (input.publicIpv4) {
    lines.push({
      item: 'public IPv4',
      monthlyUsd: cents(r.ipInUsePerHour * HOURS_PER_MONTH),
      detail: `${r.ipDetail}, $${fmt(r.ipInUsePerHour, 4)}/h`,
    });
  }
  const monthlyUsd = cents(lines.reduce((sum, l) => sum + l.monthlyUsd, 0));
  const stoppedMonthlyUsd = cents(cents(r.diskPerMonth) + cents(r.ipReservedPerHour * HOURS_PER_MONTH));
  const credits = cpuCreditCost(input);
  const excludes = credits?.mode === 'unlimited' ? [...r.excludes, `surplus CPU credits in unlimited mode (up to $${credits.worstCaseMonthlyUsd.toFixed(2)}/month, see the worst case)`] : r.excludes;
  const p = PRICING[input.provider];
  const approximate = regionPricing(input.provider, input.region).approximate
    ? `${input.region} is priced as ${p.baseRegion}'s published prices times a rounded regional relativity (within a few %)`
    : undefined;
  return {
    lines,
    monthlyUsd,
    stoppedMonthlyUsd,
    priceDate: p.priceDate ?? PRICE_DATE,
    sources: p.sourceUrls,
    ...(approximate ? { approximate } : {}),
    excludes,
    ...(credits ? { cpuCredits: credits } : {}),
  };
}

/**
 * T3 credits: in standard mode nothing is billed beyond the hourly price (the CPU is held to its
 * baseline once the earned credits are spent); unlimited mode bills every vCPU-hour above the
 * baseline. The worst case is the CPU at 100% all month. Undefined for sizes that do not bill bursts.
 */
export function cpuCreditCost(input: Pick<EstimateInput, 'provider' | 'size' | 'cpuCredits'>): CpuCreditCost | undefined {
  const spec = sizeSpec(input.provider, input.size);
  if (input.provider !== 'aws' || spec.baselinePerVcpu === undefined) return undefined;
  const mode = input.cpuCredits ?? 'standard';
  const surplusVcpuHours = (1 - spec.baselinePerVcpu) * spec.vcpus * HOURS_PER_MONTH;
  const worstCaseMonthlyUsd = cents(surplusVcpuHours * T3_SURPLUS_CREDIT_USD_PER_VCPU_HOUR);
  const baseline = `${Math.round(spec.baselinePerVcpu * 100)}% of each of ${spec.vcpus} vCPUs`;
  const detail =
    mode === 'standard'
      ? `standard mode: bursts use earned credits, then the CPU is held to its baseline (${baseline}); never billed extra. Unlimited mode (--cpu-credits unlimited) would add up to $${worstCaseMonthlyUsd.toFixed(2)}/month`
      : `unlimited mode: CPU above the baseline (${baseline}) beyond earned credits is billed at $${T3_SURPLUS_CREDIT_USD_PER_VCPU_HOUR}/vCPU-hour; at 100% all month that is ${fmt(surplusVcpuHours, 0)} vCPU-hours, $${worstCaseMonthlyUsd.toFixed(2)}/month`;
  return { mode, baselinePerVcpu: spec.baselinePerVcpu, worstCaseMonthlyUsd, detail };
}

export interface CostSoFarInput extends EstimateInput {
  /** hours the VM was running since it was created */
  runningHours: number;
  /** hours since the deployment was created (running + stopped) */
  totalHours: number;
}

export interface CostSoFar {
  /** estimated spend since creation (unrounded; round for display) */
  soFarUsd: number;
  /** what a month of running costs (estimateMonthly().monthlyUsd) */
  monthlyUsd: number;
  lines: Array<{ item: string; usd: number; detail: string }>;
  priceDate: string;
  excludes: string[];
}

/** For `status`: compute for the running hours, disk for all hours, the address as it was billed. */
export function costSoFar(input: CostSoFarInput): CostSoFar {
  const { runningHours, totalHours } = input;
  if (!(runningHours >= 0 && totalHours >= 0)) throw new Error('costSoFar: hours must be non-negative numbers');
  const running = Math.min(runningHours, totalHours);
  const stopped = totalHours - running;
  const r = rates(input);
  const lines = [
    { item: 'compute', usd: r.computePerHour * running, detail: `${r.instanceType}, ${fmt(running, 1)} h running` },
    { item: 'disk', usd: (r.diskPerMonth / HOURS_PER_MONTH) * totalHours, detail: `${r.diskDetail}, ${fmt(totalHours, 1)} h` },
  ];
  if (input.publicIpv4) {
    lines.push({
      item: 'public IPv4',
      usd: r.ipInUsePerHour * running + r.ipReservedPerHour * stopped,
      detail: `${fmt(running, 1)} h in use, ${fmt(stopped, 1)} h while stopped`,
    });
  }
  return {
    soFarUsd: lines.reduce((sum, l) => sum + l.usd, 0),
    monthlyUsd: estimateMonthly(input).monthlyUsd,
    lines,
    priceDate: PRICE_DATE,
    excludes: r.excludes,
  };
}

/**
 * What the deployment costs per hour in its current power state: running = compute + disk + the
 * address in use; stopped (by `stop` or the idle watchdog) = disk + a static address only.
 */
export function hourlyRate(input: EstimateInput, running: boolean): number {
  const r = rates(input);
  const disk = r.diskPerMonth / HOURS_PER_MONTH;
  return running ? r.computePerHour + disk + r.ipInUsePerHour : disk + r.ipReservedPerHour;
}

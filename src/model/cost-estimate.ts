/**
 * The deployment's cost estimate as the Worker's dashboard shows it: made by `init` from the plan
 * and passed as the plain var COST_ESTIMATE (JSON; no secret in it), parsed defensively by the
 * Worker (a var is text anyone with the config can edit). It is the estimate at deploy time: a
 * later `scale` changes the size, and the next `init` run refreshes it.
 */
import type { Plan } from './deployment.js';

export interface CostEstimate {
  provider: string;
  region: string;
  size: string;
  instanceType: string;
  monthlyUsd: number;
  stoppedMonthlyUsd: number;
  priceDate: string;
  lines: Array<{ item: string; monthlyUsd: number }>;
}

/** The var's value (kept small: wrangler vars are limited to 5 KB each). */
export function costEstimateVar(plan: Plan): string {
  const e: CostEstimate = {
    provider: plan.provider,
    region: plan.region,
    size: plan.size,
    instanceType: plan.instanceType,
    monthlyUsd: plan.cost.monthlyUsd,
    stoppedMonthlyUsd: plan.cost.stoppedMonthlyUsd,
    priceDate: plan.cost.priceDate,
    lines: plan.cost.lines.slice(0, 12).map((l) => ({ item: l.item.slice(0, 120), monthlyUsd: l.monthlyUsd })),
  };
  return JSON.stringify(e);
}

const str = (v: unknown, max = 120): string | undefined => (typeof v === 'string' && v.length <= max ? v : undefined);
const usd = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e7 ? v : undefined);

/** The estimate from the var, or undefined when it is absent or not what costEstimateVar makes. */
export function parseCostEstimate(text: string | undefined): CostEstimate | undefined {
  if (!text) return undefined;
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!j || typeof j !== 'object') return undefined;
  const [provider, region, size, instanceType, priceDate] = [str(j.provider), str(j.region), str(j.size), str(j.instanceType), str(j.priceDate)];
  const [monthlyUsd, stoppedMonthlyUsd] = [usd(j.monthlyUsd), usd(j.stoppedMonthlyUsd)];
  if (!provider || !region || !size || !instanceType || !priceDate || monthlyUsd === undefined || stoppedMonthlyUsd === undefined || !Array.isArray(j.lines)) return undefined;
  const lines: CostEstimate['lines'] = [];
  for (const l of j.lines.slice(0, 12) as Array<Record<string, unknown>>) {
    const item = str(l?.item);
    const m = usd(l?.monthlyUsd);
    if (item !== undefined && m !== undefined) lines.push({ item, monthlyUsd: m });
  }
  return { provider, region, size, instanceType, monthlyUsd, stoppedMonthlyUsd, priceDate, lines };
}

import type { Plan } from '../model/deployment.js';
import type { Output } from './output.js';
import { HOURS_PER_MONTH } from '../pricing/catalog.js';

const usd = (n: number) => `$${n.toFixed(2)}`;

/** The plan screen: what will be created, and what it costs per month. */
export function renderPlan(out: Output, plan: Plan): void {
  out.line(out.style('bold', `Plan for ${plan.provider.toUpperCase()} ${plan.region}`));
  out.line(`  VM        ${plan.instanceType} (${plan.vcpus} vCPU, ${plan.memoryGiB} GiB RAM, ${plan.diskGiB} GiB encrypted disk) — size ${plan.size}`);
  out.line(`  image     ${plan.image.name} (${plan.image.id})`);
  out.line(`  network   ${plan.network.detail}`);
  out.line('  creates:');
  for (const r of plan.resources) out.line(`    + ${r.kind} ${r.name}${r.detail ? ` — ${r.detail}` : ''}`);
  out.line(`  cost (on-demand prices of ${plan.cost.priceDate}):`);
  for (const l of plan.cost.lines) out.line(`    ${l.item.padEnd(12)} ${usd(l.monthlyUsd).padStart(9)}/month  ${out.style('dim', l.detail)}`);
  out.line(`    ${'total'.padEnd(12)} ${usd(plan.cost.monthlyUsd).padStart(9)}/month running, ${usd(plan.cost.stoppedMonthlyUsd)}/month while stopped`);
  const credits = plan.cost.cpuCredits;
  if (credits?.mode === 'unlimited') {
    out.line(`    ${'worst case'.padEnd(12)} ${usd(plan.cost.monthlyUsd + credits.worstCaseMonthlyUsd).padStart(9)}/month  ${out.style('dim', `with +${usd(credits.worstCaseMonthlyUsd)} of surplus CPU credits`)}`);
  }
  if (credits) out.line(`    ${'CPU credits'.padEnd(12)} ${credits.detail}`);
  out.line(out.style('dim', `    includes: ${plan.cost.lines.map((l) => l.item).join(', ')}, for the VM running all ${HOURS_PER_MONTH} hours of a month`));
  out.line(out.style('dim', `    excludes: ${plan.cost.excludes.join('; ')}`));
  if (plan.cost.sources?.length) out.line(out.style('dim', `    prices:   ${plan.cost.sources.join(' ')} (read ${plan.cost.priceDate})`));
  if (plan.cost.approximate) out.line(out.style('dim', `    note:     ${plan.cost.approximate}`));
  for (const c of plan.compare ?? []) out.line(out.style('dim', `    compare: ${c.provider} ${c.instanceType} ${usd(c.monthlyUsd)}/month (${c.detail})`));
}

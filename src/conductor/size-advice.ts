import { SIZE_NAMES } from '../pricing/catalog.js';
import { estimateMonthly, type EstimateInput } from '../pricing/estimate.js';
import type { SizeName } from '../model/deployment.js';

/**
 * `status`'s size suggestion, from Crawl4AI's own memory figures (its /monitor/health through
 * the Worker's admin API): the memory limit of Crawl4AI's container follows the VM's size
 * (crawl4ai-run.sh), so a bigger size is more room for browsers and a smaller one less.
 *   memory in use > 85 %        → the next size up (Crawl4AI refuses new browsers at 95 %)
 *   memory in use < 30 %, above small → the next size down
 * One look is one moment: the suggestion says so, and `scale` is the user's call.
 */
export const SUGGEST_LARGER_ABOVE_PERCENT = 85;
export const SUGGEST_SMALLER_BELOW_PERCENT = 30;

/** Crawl4AI's figures as the Worker's GET /admin/origin/health returns them. */
export type OriginMemory =
  | { memoryPercent: number; cpuPercent: number | null; browsersMemoryMb: number | null; memoryPressure: string | null }
  | { error: string };

export interface SizeAdvice {
  direction: 'larger' | 'smaller';
  size: SizeName;
  /** Crawl4AI's memory in use, % of its container's limit */
  memoryPercent: number;
  /** e.g. "crawl4ai-mcp scale --name work --size medium" */
  command: string;
  /** the monthly estimate of the suggested size minus the current one (running all month) */
  monthlyDeltaUsd: number;
}

export function sizeAdvice(name: string, priced: EstimateInput, memory: OriginMemory | undefined): SizeAdvice | null {
  if (!memory || 'error' in memory) return null;
  const i = SIZE_NAMES.indexOf(priced.size);
  if (i < 0) return null;
  const direction = memory.memoryPercent > SUGGEST_LARGER_ABOVE_PERCENT ? 'larger' : memory.memoryPercent < SUGGEST_SMALLER_BELOW_PERCENT ? 'smaller' : null;
  const size = direction === 'larger' ? SIZE_NAMES[i + 1] : direction === 'smaller' ? SIZE_NAMES[i - 1] : undefined;
  if (!direction || !size) return null; // already the largest (or the smallest)
  const delta = estimateMonthly({ ...priced, size }).monthlyUsd - estimateMonthly(priced).monthlyUsd;
  return { direction, size, memoryPercent: memory.memoryPercent, command: `crawl4ai-mcp scale --name ${name} --size ${size}`, monthlyDeltaUsd: Math.round(delta * 100) / 100 };
}

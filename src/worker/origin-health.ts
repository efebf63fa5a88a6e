/**
 * Crawl4AI's own memory figures for `GET /admin/origin/health` (and the size suggestion of
 * `crawl4ai-mcp status`): its monitor endpoint `/monitor/health`, reduced to the few numbers the
 * CLI uses, so the CLI does not depend on Crawl4AI's shape. Never throws: an unreadable monitor is
 * `{ error }` (e.g. public mode behind a Caddy that does not pass the route yet).
 */
import { Crawl4aiClient } from '../mcp/crawl4ai.js';
import type { Crawl4aiOrigin } from '../mcp/origin.js';

export type OriginHealth =
  | {
      /** memory in use, % of what the container may use (Crawl4AI refuses new browsers at its threshold, 95 % by default) */
      memoryPercent: number;
      cpuPercent: number | null;
      /** the browser pool's memory, MB */
      browsersMemoryMb: number | null;
      /** the janitor's view: LOW / MEDIUM / HIGH */
      memoryPressure: string | null;
    }
  | { error: string };

interface MonitorHealth {
  container?: { memory_percent?: unknown; cpu_percent?: unknown };
  pool?: { total_memory_mb?: unknown };
  janitor?: { memory_pressure?: unknown };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export async function originHealth(origin: Crawl4aiOrigin): Promise<OriginHealth> {
  try {
    const h = await new Crawl4aiClient(origin, { deadline: Date.now() + 10_000 }).request<MonitorHealth>('GET', '/monitor/health', undefined, 'monitor health');
    const memoryPercent = num(h?.container?.memory_percent);
    if (memoryPercent === null) return { error: 'Crawl4AI /monitor/health has no container.memory_percent' };
    return {
      memoryPercent,
      cpuPercent: num(h.container?.cpu_percent),
      browsersMemoryMb: num(h.pool?.total_memory_mb),
      memoryPressure: typeof h.janitor?.memory_pressure === 'string' ? h.janitor.memory_pressure : null,
    };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

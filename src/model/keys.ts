/**
 * An MCP API key as the Worker's admin API describes it (the Worker's KeyRegistry writes it, the
 * CLI's `keys` and `status` read it): one shape, shared by both sides of that API.
 */
export interface ToolUsage {
  tool: string;
  calls: number;
  errors: number;
  bytes: number;
  latency_ms_total: number;
  latency_ms_max: number;
}

export interface KeyUsage {
  calls: number;
  errors: number;
  bytes: number;
  latency_ms_total: number;
  /** calls today (UTC), what the daily quota counts */
  today: number;
  by_tool: ToolUsage[];
}

export interface KeyInfo {
  id: string;
  name: string;
  source: string;
  /** tool allowlist; null = every tool */
  tools: string[] | null;
  rpm: number | null;
  daily: number | null;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
  usage: KeyUsage;
}

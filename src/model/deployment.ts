/**
 * What a deployment is, in words every layer shares: the provider-neutral types of sizes, network
 * modes, the user's DeploymentSpec, the Plan and its cost lines, the VM's status and the tags on
 * every resource. Types and constants only, so pricing, providers, cloudflare and the conductor can
 * all import it without importing each other.
 */
export const PROVIDER_NAMES = ['aws', 'gcp', 'azure'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
export type SizeName = 'small' | 'medium' | 'large';
export type NetworkMode = 'tunnel' | 'public';
/**
 * AWS T3 CPU credit option. 'standard': the CPU is held to its baseline once the earned credits
 * are spent, and nothing extra is billed. 'unlimited': it may burst past them, and the surplus
 * credits are billed per vCPU-hour (EC2's own default for T3).
 */
export type CpuCredits = 'standard' | 'unlimited';
export const CPU_CREDIT_MODES: readonly CpuCredits[] = ['standard', 'unlimited'];

/** What the user asked for. Secrets are not in here: they reach the VM only through its rendered bootstrap. */
export interface DeploymentSpec {
  name: string;
  provider: ProviderName;
  region: string;
  size: SizeName;
  network: NetworkMode;
  /** credential profile name in the secret store, or "chain" for the cloud's own credential chain */
  profile: string;
  /** AWS burstable types only; default 'standard' (no surplus-credit charges) */
  cpuCredits?: CpuCredits;
  /** idle auto-stop: the VM powers itself off after this many minutes without a crawl request; 0 = never */
  idleStopMinutes?: number;
}

export interface PlannedResource {
  kind: string;
  name: string;
  detail: string;
}

export interface CostLine {
  item: string;
  monthlyUsd: number;
  detail: string;
}

export interface CpuCreditCost {
  mode: CpuCredits;
  /** share of each vCPU the instance may use all the time without surplus credits */
  baselinePerVcpu: number;
  /**
   * what unlimited mode adds in a month of the CPU at 100%: (1 − baseline) × vCPUs × 730 h ×
   * the surplus-credit price. Given in standard mode too, as the price of opting in.
   */
  worstCaseMonthlyUsd: number;
  detail: string;
}

export interface Plan {
  provider: ProviderName;
  region: string;
  size: SizeName;
  instanceType: string;
  vcpus: number;
  memoryGiB: number;
  diskGiB: number;
  image: { id: string; name: string };
  network: { vpc?: string; subnet?: string; detail: string };
  resources: PlannedResource[];
  cost: {
    lines: CostLine[];
    monthlyUsd: number;
    stoppedMonthlyUsd: number;
    priceDate: string;
    excludes: string[];
    /** sizes whose CPU bursts can be billed (AWS T3): the credit option and what unlimited can add */
    cpuCredits?: CpuCreditCost;
  };
}

export type VmState = 'pending' | 'running' | 'stopping' | 'stopped' | 'terminated' | 'missing' | 'unknown';

export interface VmStatus {
  state: VmState;
  instanceType?: string;
  publicIp?: string;
  privateIp?: string;
  launchedAt?: string;
  /** the cloud's own name for the state and what it bills in it (Azure: deallocated vs stopped) */
  detail?: string;
  /** AWS burstable types: the CPU credit option the instance has now */
  cpuCredits?: CpuCredits;
  /** the Crawl4AI image the VM runs, as it reported it (`repo:tag@sha256:…`), or why that is unknown */
  image?: { ref: string } | { unknown: string };
}

/** A resource found by tag (for destroy after the state file is gone, and drift checks). */
export interface DiscoveredResource {
  kind: string;
  id: string;
  region: string;
  state?: string;
}

export interface ValidationResult {
  identity: string;
  /** permissions proven by dry runs */
  allowed: string[];
  /** permissions the credentials lack (empty when all good) */
  missing: string[];
}

/** Credentials resolved by the CLI from the secret store, or the cloud's own credential chain. */
export type ProviderCredentials = { kind: 'chain' } | { kind: 'static'; values: Readonly<Record<string, string>> };

export const TAG_DEPLOYMENT = 'crawl4ai-mcp:deployment';
export const TAG_MANAGED_BY = 'managed-by';
export const MANAGED_BY = 'crawl4ai-mcp';

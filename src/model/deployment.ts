/**
 * What a deployment is, in words every layer shares: the provider-neutral types of sizes, network
 * modes, the user's DeploymentSpec, the Plan and its cost lines, the VM's status and the tags on
 * every resource. Types and constants only, so pricing, providers, cloudflare and the conductor can
 * all import it without importing each other.
 */
/** `cloudflare`: Crawl4AI as a Cloudflare Container next to the Worker (no VM, no other cloud account). */
export const PROVIDER_NAMES = ['aws', 'gcp', 'azure', 'cloudflare'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
export type SizeName = 'small' | 'medium' | 'large';
/** `container`: the Worker reaches Crawl4AI through its Container's Durable Object (provider cloudflare only). */
export type NetworkMode = 'tunnel' | 'public' | 'container';
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
    /** the cloud's price pages the figures come from */
    sources?: string[];
    /** why the figure is an estimate beyond the usual (a region priced by a rounded relativity) */
    approximate?: string;
    excludes: string[];
    /** sizes whose CPU bursts can be billed (AWS T3): the credit option and what unlimited can add */
    cpuCredits?: CpuCreditCost;
  };
  /** provider cloudflare: the same hours a day on a VM of the same size, for comparison */
  compare?: Array<{ provider: ProviderName; instanceType: string; monthlyUsd: number; detail: string }>;
}

export type VmState = 'pending' | 'running' | 'stopping' | 'stopped' | 'terminated' | 'missing' | 'unknown';

export interface VmStatus {
  state: VmState;
  instanceType?: string;
  publicIp?: string;
  privateIp?: string;
  launchedAt?: string;
  /**
   * When the cloud says the VM last started (running) or stopped (stopped), ISO: how `status`
   * keeps the power history true when the idle watchdog or the Worker changed it, not the CLI.
   */
  startedAt?: string;
  stoppedAt?: string;
  /** the cloud's own name for the state and what it bills in it (Azure: deallocated vs stopped) */
  detail?: string;
  /** AWS burstable types: the CPU credit option the instance has now */
  cpuCredits?: CpuCredits;
  /** stopped with `stop --hold`: a tool call does not wake it (the hold tag is on the VM) */
  held?: boolean;
  /** stopped yet billed for compute as if running (Azure: stopped from inside, still allocated) */
  computeBilled?: boolean;
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

/**
 * Provider `cloudflare`: the Cloudflare Container that runs Crawl4AI, carried by the Worker's deploy
 * (wrangler creates or updates the container application from the Worker's `containers` entry).
 */
export interface ContainerSpec {
  /** `docker.io/unclecode/crawl4ai:<tag>` (docker.io/ written out) */
  image: string;
  instanceType: string;
  /** horizontal scale: how many instances may run at once (requests spread across them) */
  maxInstances: number;
  /** idle time before an instance sleeps (scale to zero), e.g. "10m" */
  sleepAfter: string;
  /** the cold start on paper, in seconds, for the "ready in ~N s" answer */
  coldStartSeconds: number;
}

/** A container application as the Cloudflare API shows it (provider `cloudflare`). */
export interface ContainerApplicationView {
  id: string;
  name: string;
  image: string;
  instanceType: string;
  maxInstances: number;
  createdAt?: string;
  /** instances by health, when the API reports them */
  instances?: { healthy: number; starting: number; failed: number };
}

export const TAG_DEPLOYMENT = 'crawl4ai-mcp:deployment';
export const TAG_MANAGED_BY = 'managed-by';
export const MANAGED_BY = 'crawl4ai-mcp';
/** Put on the VM by `stop --hold`: the Worker does not wake a VM carrying it (on AWS, IAM refuses too). */
export const HOLD_TAG = 'crawl4ai-mcp:hold';
/** The same as a GCP label (label keys allow only lowercase letters, digits, "_" and "-"). */
export const HOLD_LABEL = 'crawl4ai-mcp-hold';

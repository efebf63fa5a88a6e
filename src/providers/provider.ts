import type { Journal } from '../state/journal.js';

/**
 * "Provider" means where Crawl4AI runs. Every cloud implements this one small interface (in the
 * spirit of docker-machine's Driver); waiting, retrying, journaling and printing live once in
 * src/core, never in a provider. Providers are loaded lazily (see ./registry.ts) so using AWS
 * never loads the GCP or Azure SDKs.
 */
export type ProviderName = 'aws' | 'gcp' | 'azure';
export type SizeName = 'small' | 'medium' | 'large';
export type NetworkMode = 'tunnel' | 'public';

/** What the user asked for. Secrets are not in here: they are passed separately (BootstrapSecrets). */
export interface DeploymentSpec {
  name: string;
  provider: ProviderName;
  region: string;
  size: SizeName;
  network: NetworkMode;
  /** credential profile name in the secret store, or "chain" for the cloud's own credential chain */
  profile: string;
}

/** The VM's bootstrap, already rendered (cloud-init user data; contains secrets, so never logged or stored). */
export interface VmBootstrap {
  userData: string;
  /** TCP ports to open to the internet (public mode: [443]; tunnel mode: []) */
  inboundPorts: number[];
}

export type BootstrapFactory = (address: { publicIp?: string }) => VmBootstrap;

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
  cost: { lines: CostLine[]; monthlyUsd: number; stoppedMonthlyUsd: number; priceDate: string; excludes: string[] };
}

export type VmState = 'pending' | 'running' | 'stopping' | 'stopped' | 'terminated' | 'missing' | 'unknown';

export interface VmStatus {
  state: VmState;
  instanceType?: string;
  publicIp?: string;
  privateIp?: string;
  launchedAt?: string;
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

export interface ProviderContext {
  spec: DeploymentSpec;
  credentials: ProviderCredentials;
  /** the process environment (endpoint overrides such as AWS_ENDPOINT_URL_EC2 live here) */
  env: NodeJS.ProcessEnv;
  /** test hook for waiters: poll interval in ms (real clouds: seconds) */
  pollMs?: number;
  /** reports progress lines ("creating security group ...") */
  progress(message: string): void;
  /** debug detail, shown with --verbose */
  debug(message: string): void;
}

export interface Provider {
  readonly name: ProviderName;
  /** Sizes this provider maps to machine types (all with >= 4 GiB RAM). */
  readonly sizes: Readonly<Record<SizeName, string>>;
  readonly defaultRegion: string;

  /** PreCreateCheck: identity + dry runs of the real create calls. Creates nothing. */
  validateCredentials(ctx: ProviderContext): Promise<ValidationResult>;
  /** What apply would create and what it costs. Creates nothing. */
  plan(ctx: ProviderContext): Promise<Plan>;
  /**
   * Creates (or resumes creating) the VM and its network pieces, journaling each resource.
   * `bootstrap` is called once the VM's public address is known (public mode allocates a static
   * address before the VM, so the hostname in its TLS config can embed it).
   */
  apply(ctx: ProviderContext, journal: Journal, bootstrap: BootstrapFactory): Promise<VmStatus>;
  status(ctx: ProviderContext, journal: Journal): Promise<VmStatus>;
  /** Stop, change machine type, start (the caller waits for health). */
  resize(ctx: ProviderContext, journal: Journal, size: SizeName): Promise<VmStatus>;
  stop(ctx: ProviderContext, journal: Journal): Promise<VmStatus>;
  start(ctx: ProviderContext, journal: Journal): Promise<VmStatus>;
  /** Deletes every resource in the journal and every resource tagged for the deployment. */
  destroy(ctx: ProviderContext, journal: Journal): Promise<void>;
  /** Every live resource tagged crawl4ai-mcp:deployment=<name>, found without the state file. */
  discover(ctx: ProviderContext): Promise<DiscoveredResource[]>;
}

export const TAG_DEPLOYMENT = 'crawl4ai-mcp:deployment';
export const TAG_MANAGED_BY = 'managed-by';
export const MANAGED_BY = 'crawl4ai-mcp';

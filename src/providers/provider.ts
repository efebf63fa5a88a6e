import type { Journal } from '../state/journal.js';
import type { ConsoleOutput } from './console.js';
import type {
  ContainerApplicationView,
  ContainerSpec,
  CpuCredits,
  DeploymentSpec,
  DiscoveredResource,
  Plan,
  ProviderCredentials,
  ProviderName,
  SizeName,
  ValidationResult,
  VmStatus,
} from '../model/deployment.js';

/**
 * "Provider" means where Crawl4AI runs. Every cloud implements this one small interface (in the
 * spirit of docker-machine's Driver); waiting, retrying, journaling and printing live once (in
 * src/ground and src/conductor), never in a provider. Providers are loaded lazily by the conductor
 * (src/conductor/providers.ts) so using AWS never loads the GCP or Azure SDKs.
 */

/** The VM's bootstrap, already rendered (cloud-init user data; contains secrets, so never logged or stored). */
export interface VmBootstrap {
  userData: string;
  /** TCP ports to open to the internet (public mode: [443]; tunnel mode: []) */
  inboundPorts: number[];
}

export type BootstrapFactory = (address: { publicIp?: string }) => VmBootstrap;

/**
 * Provider `cloudflare`: the container application calls (src/cloudflare/containers.ts), handed
 * in by the conductor because providers do not import the Cloudflare layer.
 */
export interface ContainerApplicationsPort {
  find(name: string): Promise<ContainerApplicationView | undefined>;
  listManaged(): Promise<ContainerApplicationView[]>;
  setMaxInstances(id: string, maxInstances: number): Promise<void>;
  delete(id: string): Promise<boolean>;
  checkAllowed(): Promise<{ ok: true } | { ok: false; missingPermission: string }>;
}

/**
 * Wake on request: what the Worker needs to start this deployment's stopped VM when a tool call
 * finds it down. `vars` are plain Worker vars (which cloud, which VM); `secrets` carry a credential
 * that may start this one VM and nothing else, and go only into the Worker (wrangler on stdin).
 */
export interface WakeCredential {
  vars: Record<string, string>;
  secrets: Record<string, string>;
}

/** What a wake credential may need from the conductor: the Worker's URL (Azure: its OIDC issuer), deploying the Worker first if it is not yet. */
export interface WakeContext {
  workerUrl(): Promise<string>;
}

export interface ProviderContext {
  spec: DeploymentSpec;
  credentials: ProviderCredentials;
  /** the process environment (endpoint overrides such as AWS_ENDPOINT_URL_EC2 live here) */
  env: NodeJS.ProcessEnv;
  /** test hook for waiters: poll interval in ms (real clouds: seconds) */
  pollMs?: number;
  /** provider `cloudflare` only */
  containers?: ContainerApplicationsPort;
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
  /** The least-privilege policy to grant when a permission is missing (a path under templates/policies/). */
  readonly policyFile: string;

  /**
   * Public mode without the user's own --hostname: a DNS name the cloud gives the static address
   * (Azure: <label>.<region>.cloudapp.azure.com), if it has one; otherwise the conductor uses a
   * wildcard DNS name of the address (sslip.io).
   */
  publicHostname?(ctx: ProviderContext): string | undefined;

  /**
   * Where Crawl4AI runs next to the Worker instead of on a VM (Cloudflare Containers): the Worker's
   * deploy carries this, and wrangler creates the application. Then `apply` runs after the Worker
   * deploy (it records what wrangler made) and there is no bootstrap to scrub.
   */
  workerContainer?(ctx: ProviderContext, journal: Journal): ContainerSpec;

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
  /**
   * Clouds whose sizes bill CPU bursts (AWS T3 in unlimited mode): changes the credit option of
   * the VM in place. Absent where bursting costs nothing extra (GCP e2, Azure B-series).
   */
  setCpuCredits?(ctx: ProviderContext, journal: Journal, mode: CpuCredits): Promise<VmStatus>;
  /**
   * Changes the idle auto-stop minutes on the VM (secretFreeUserData: a bootcmd that rewrites the
   * setting at boot), restarting it so the change applies now; the caller waits for health.
   */
  setIdleStop?(ctx: ProviderContext, journal: Journal, minutes: number): Promise<VmStatus>;
  stop(ctx: ProviderContext, journal: Journal): Promise<VmStatus>;
  start(ctx: ProviderContext, journal: Journal): Promise<VmStatus>;
  /**
   * Replaces the VM's bootstrap (its user data, which carries the secrets) with a secret-free one,
   * once the VM has booted and written the secrets to its own disk. Clouds that allow this only
   * while the VM is stopped (EC2) stop it, replace it and start it again; the caller then waits for
   * health. Safe to repeat (a resumed init finishes an interrupted scrub).
   */
  scrubBootstrap(ctx: ProviderContext, journal: Journal): Promise<VmStatus>;
  /**
   * Wake on request (optional; AWS, GCP and Azure): the Worker's plain vars naming the VM to
   * wake, known before apply (the Worker deploys while the VM launches).
   */
  wakeVars?(ctx: ProviderContext): Record<string, string>;
  /**
   * Creates (journaled) the wake credential once the VM exists and issues it a fresh key. Undefined
   * when these credentials may not create it (wake stays off, said in a progress line).
   */
  issueWakeCredential?(ctx: ProviderContext, journal: Journal, wake: WakeContext): Promise<WakeCredential | undefined>;
  /**
   * Puts (or removes) the hold tag on the VM: `stop --hold` keeps a stopped VM from waking on the
   * next tool call; `start` lifts it. Optional: providers without it refuse `stop --hold`.
   */
  setWakeHold?(ctx: ProviderContext, journal: Journal, hold: boolean): Promise<void>;
  /** Deletes every resource in the journal and every resource tagged for the deployment. */
  destroy(ctx: ProviderContext, journal: Journal): Promise<void>;
  /** Every live resource tagged crawl4ai-mcp:deployment=<name>, found without the state file. */
  discover(ctx: ProviderContext): Promise<DiscoveredResource[]>;
  /**
   * The VM's serial console through the cloud's console-output API (no SSH), from `start` where
   * the cloud reads by offset. Optional: a provider without a VM console (no serial port) omits
   * it, and `logs --boot` says so.
   */
  consoleOutput?(ctx: ProviderContext, journal: Journal, start?: number): Promise<ConsoleOutput>;
}

/** What `status` says where a provider does not read the VM's console for the image it runs (yet). */
export const IMAGE_NOT_READ = 'not reported: crawl4ai-mcp does not read this cloud\'s serial console yet';

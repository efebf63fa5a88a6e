/**
 * Wake on request: when a tool call finds the origin down and the VM behind it stopped (the idle
 * watchdog or `crawl4ai-mcp stop` powered it off), the Worker starts it and tells the caller when to
 * call again, instead of an error that only the deployment owner can fix.
 *
 * Cloud-neutral: a {@link WakeTarget} can say what the VM is doing and start it. AWS's signs EC2
 * Query calls with aws4fetch using the deployment's wake credential, an IAM key that may start this
 * one instance and describe instances, nothing else (src/providers/aws/wake-credential.ts). GCP and
 * Azure can add theirs behind the same shape.
 */
import { AwsClient } from 'aws4fetch';
import { OriginUnreachableError, type Crawl4aiOrigin, type OriginCallOptions } from '../mcp/origin.js';
import { HOLD_TAG } from '../model/deployment.js';
import { sleep } from '../ground/wait.js';
import { azureWakeConfig, azureWakeTarget, type AzureWakeEnv } from './wake-azure.js';
import { gcpWakeTarget } from './wake-gcp.js';

/** What the cloud says the VM is doing; `since` is when it last began running or starting (ms). */
export interface VmPower {
  state: 'running' | 'pending' | 'stopping' | 'stopped' | 'gone';
  since?: number;
  /** its owner stopped it with `stop --hold`: it is not to be woken */
  held?: boolean;
}

export interface WakeTarget {
  /** the isolate guard's key: the same VM, the same key */
  readonly key: string;
  /** names the VM in logs, e.g. "EC2 instance i-0ab… (us-east-1)" */
  readonly label: string;
  describe(): Promise<VmPower>;
  start(): Promise<void>;
}

/** The Worker vars and secrets a wake target is made from (set by `init`, see README). */
export interface WakeEnv extends AzureWakeEnv {
  /** which cloud's wake target: "aws", "gcp" (wake-gcp.ts) or "azure" (wake-azure.ts) */
  WAKE_CLOUD?: string;
  WAKE_AWS_REGION?: string;
  /** the value of the crawl4ai-mcp:deployment tag of the instance to wake */
  WAKE_AWS_DEPLOYMENT?: string;
  WAKE_AWS_ACCESS_KEY_ID?: string;
  WAKE_AWS_SECRET_ACCESS_KEY?: string;
  /** GCP (wake-gcp.ts): the wake service account's key file, and "projects/P/zones/Z/instances/I" */
  WAKE_GCP_KEY?: string;
  WAKE_GCP_INSTANCE?: string;
}

/**
 * Seconds from StartInstances to Crawl4AI answering: EC2 takes a stopped instance to running in
 * about 15-30 s, Ubuntu boots in about 20 s, and Docker starts Crawl4AI (image already on disk)
 * with its browser pool in about 30 s. init's own restart after the user-data scrub is the same
 * path ("about a minute" of waiting plus the instance start).
 */
export const BOOT_SECONDS = 90;
/**
 * After a start by this isolate, no second StartInstances for this long while EC2 still says
 * "stopped" (its describe can lag a start), unless the VM was seen starting or answering since.
 */
export const START_GUARD_MS = 120_000;
/** A VM stopping goes to stopped in well under a minute; then the next call starts it. */
const STOPPING_RETRY_SECONDS = 60;

/**
 * Answers that mean "nothing answers at the origin": the edge's 521/522/523/530 (VM off: closed
 * port, no answer, unreachable, name gone) and 502 from Caddy or the tunnel in front of a Crawl4AI
 * that is not up yet (just started). Not Crawl4AI's own errors (503 busy, 504 timeout).
 */
const ORIGIN_DOWN_STATUSES = new Set([502, 521, 522, 523, 530]);

export function wakeTargetFor(env: WakeEnv, fetcher: typeof fetch = fetch): WakeTarget | undefined {
  if (env.WAKE_CLOUD === 'aws' && env.WAKE_AWS_REGION && env.WAKE_AWS_DEPLOYMENT && env.WAKE_AWS_ACCESS_KEY_ID && env.WAKE_AWS_SECRET_ACCESS_KEY) {
    return awsWakeTarget(
      { region: env.WAKE_AWS_REGION, deployment: env.WAKE_AWS_DEPLOYMENT, accessKeyId: env.WAKE_AWS_ACCESS_KEY_ID, secretAccessKey: env.WAKE_AWS_SECRET_ACCESS_KEY },
      fetcher,
    );
  }
  if (env.WAKE_CLOUD === 'gcp' && env.WAKE_GCP_KEY && env.WAKE_GCP_INSTANCE) {
    try {
      return gcpWakeTarget({ key: env.WAKE_GCP_KEY, instance: env.WAKE_GCP_INSTANCE }, fetcher);
    } catch (e) {
      console.error(`wake: off (${e instanceof Error ? e.message : String(e)})`);
      return undefined;
    }
  }
  const azure = env.WAKE_CLOUD === 'azure' ? azureWakeConfig(env) : undefined;
  if (azure) return azureWakeTarget(azure, fetcher);
  return undefined;
}

const EC2_VERSION = '2016-11-15';

/**
 * The deployment's instance on EC2, found by the same tags the wake policy is conditioned on (so a
 * new instance from a later init is found without redeploying the Worker). Signed SigV4 calls to
 * the region's public EC2 endpoint; no SDK (the Worker bundle stays small).
 */
export function awsWakeTarget(
  cfg: { region: string; deployment: string; accessKeyId: string; secretAccessKey: string },
  fetcher: typeof fetch = fetch,
): WakeTarget {
  const aws = new AwsClient({ accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey, service: 'ec2', region: cfg.region, retries: 0 });
  const endpoint = `https://ec2.${cfg.region}.amazonaws.com/`;
  let instanceId: string | undefined;
  const call = async (params: Record<string, string>): Promise<string> => {
    const body = new URLSearchParams({ ...params, Version: EC2_VERSION }).toString();
    const signed = await aws.sign(endpoint, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
    const res = await fetcher(signed, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) {
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP ${res.status}`;
      throw new Error(`EC2 ${params.Action} failed: ${code}`);
    }
    return text;
  };
  return {
    key: `aws:${cfg.region}:${cfg.deployment}`,
    get label() {
      return `EC2 instance ${instanceId ?? `of deployment ${cfg.deployment}`} (${cfg.region})`;
    },
    async describe() {
      const xml = await call({
        Action: 'DescribeInstances',
        'Filter.1.Name': 'tag:crawl4ai-mcp:deployment',
        'Filter.1.Value.1': cfg.deployment,
        'Filter.2.Name': 'tag:managed-by',
        'Filter.2.Value.1': 'crawl4ai-mcp',
        'Filter.3.Name': 'instance-state-name',
        'Filter.3.Value.1': 'pending',
        'Filter.3.Value.2': 'running',
        'Filter.3.Value.3': 'stopping',
        'Filter.3.Value.4': 'stopped',
      });
      const found = parseInstances(xml)[0];
      if (!found) return { state: 'gone' };
      instanceId = found.id;
      return { state: found.state, ...(found.launchTime !== undefined ? { since: found.launchTime } : {}), ...(found.held ? { held: true } : {}) };
    },
    async start() {
      if (!instanceId) await this.describe();
      if (!instanceId) throw new Error(`no instance of deployment ${cfg.deployment} to start`);
      await call({ Action: 'StartInstances', 'InstanceId.1': instanceId });
    },
  };
}

/** Instance id, state and launch time of each instance in a DescribeInstances answer. */
export function parseInstances(xml: string): Array<{ id: string; state: VmPower['state']; launchTime?: number; held?: boolean }> {
  // each instancesSet item begins with its instanceId; its first instanceState/name and launchTime are its own
  return xml
    .split('<instanceId>')
    .slice(1)
    .map((chunk) => {
      const id = chunk.slice(0, chunk.indexOf('</instanceId>'));
      const name = /<instanceState>[\s\S]*?<name>([^<]+)<\/name>/.exec(chunk)?.[1];
      const launched = /<launchTime>([^<]+)<\/launchTime>/.exec(chunk)?.[1];
      const state: VmPower['state'] = name === 'running' || name === 'pending' || name === 'stopping' || name === 'stopped' ? name : 'gone';
      const t = launched ? Date.parse(launched) : NaN;
      const held = chunk.includes(`<key>${HOLD_TAG}</key>`);
      return { id, state, ...(Number.isFinite(t) ? { launchTime: t } : {}), ...(held ? { held } : {}) };
    });
}

/** Per isolate: when this isolate last started a target, and a wake in flight (concurrent calls share it). */
const startedAt = new Map<string, number>();
const inFlight = new Map<string, Promise<OriginUnreachableError | undefined>>();

/** Test hook: forget the isolate's guard. */
export function resetWakeGuard(): void {
  startedAt.clear();
  inFlight.clear();
}

/** The VM is on its way up (or down, and will then be started): a caller may wait for it. */
class VmNotReadyError extends OriginUnreachableError {
  constructor(
    message: string,
    hint: string,
    /** what a waiting caller hears meanwhile */
    readonly progress: string,
  ) {
    super(message, hint);
  }
}

const starting = (seconds: number) =>
  new VmNotReadyError(
    `your crawler is starting, ready in about ${seconds} s — call again`,
    'the VM had stopped (idle auto-stop or `crawl4ai-mcp stop`) and this call started it; call this tool again after that time',
    `your crawler is starting, ready in about ${seconds} s; this call waits for it`,
  );

/** How often a waiting call looks again (the VM's state, then Crawl4AI). */
export const WAIT_POLL_MS = 5_000;

/**
 * What to tell the caller about the VM when the origin did not answer; undefined when the VM is up
 * (or cannot be asked), so the origin's own error stands.
 */
async function wake(target: WakeTarget, now: () => number): Promise<OriginUnreachableError | undefined> {
  let power: VmPower;
  try {
    power = await target.describe();
  } catch (e) {
    // a target may say itself what the caller should know (Azure: Entra refused the wake credential)
    if (e instanceof OriginUnreachableError) return e;
    console.error(`wake: could not read the VM's state: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  const key = target.key;
  const ourStart = startedAt.get(key);
  const guarded = ourStart !== undefined && now() - ourStart < START_GUARD_MS;
  const remaining = (since: number | undefined) => Math.max(10, Math.round(BOOT_SECONDS - (now() - (since ?? ourStart ?? now())) / 1000));
  if (power.held && (power.state === 'stopped' || power.state === 'stopping')) {
    return new OriginUnreachableError(
      'your crawler is stopped and on hold: its owner stopped it with `crawl4ai-mcp stop --hold`, so tool calls do not start it',
      'the deployment owner can run `crawl4ai-mcp start`',
    );
  }
  switch (power.state) {
    case 'stopped': {
      // a start this isolate just sent that DescribeInstances does not show yet (eventual consistency)
      if (guarded) return starting(remaining(ourStart));
      try {
        await target.start();
      } catch (e) {
        console.error(`wake: could not start ${target.label}: ${e instanceof Error ? e.message : String(e)}`);
        return new OriginUnreachableError(
          `your crawler VM is stopped and could not be started from here (${e instanceof Error ? e.message : String(e)})`,
          'the deployment owner can run `crawl4ai-mcp start`',
        );
      }
      startedAt.set(key, now());
      return starting(BOOT_SECONDS);
    }
    case 'pending':
      startedAt.delete(key); // the start took: a later "stopped" is a new stop
      return starting(remaining(power.since));
    case 'running': {
      startedAt.delete(key);
      // EC2 says running well before Crawl4AI answers: inside the boot time, it is still starting
      const since = power.since ?? ourStart;
      if (since !== undefined && now() - since < BOOT_SECONDS * 1000) return starting(remaining(since));
      return undefined;
    }
    case 'stopping':
      return new VmNotReadyError(
        `your crawler is stopping (it was idle or stopped by its owner); call again in about ${STOPPING_RETRY_SECONDS} s and it will start`,
        'a VM cannot be started until it has stopped; the next call after that starts it',
        'your crawler is stopping; this call starts it once it has stopped, then waits for it',
      );
    default:
      return undefined;
  }
}

/**
 * `origin`, with wake on request: a call that cannot reach Crawl4AI (thrown, or an edge status that
 * means nothing answers) asks the target, and answers with what the VM is doing instead. A call
 * that may wait (`waitForStart`: it asked for progress) is held while the VM starts, looking again
 * every `pollMs`, and goes through once Crawl4AI answers; past its bound it hears "call again".
 */
export function wakingOrigin(
  origin: Crawl4aiOrigin,
  target: WakeTarget | undefined,
  now: () => number = Date.now,
  opts: { pollMs?: number } = {},
): Crawl4aiOrigin {
  if (!target) return origin;
  const pollMs = opts.pollMs ?? WAIT_POLL_MS;
  const wakeOnce = (): Promise<OriginUnreachableError | undefined> => {
    const key = target.key;
    let p = inFlight.get(key);
    if (!p) {
      p = wake(target, now).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };
  /** One try: Crawl4AI's answer, or what to tell the caller about the VM. */
  const attempt = async (path: string, init: RequestInit | undefined): Promise<{ response: Response } | { told: Error }> => {
    let res: Response;
    try {
      res = await origin.fetch(path, init);
    } catch (e) {
      if (!(e instanceof OriginUnreachableError)) throw e;
      return { told: (await wakeOnce()) ?? e };
    }
    if (!ORIGIN_DOWN_STATUSES.has(res.status)) {
      startedAt.delete(target.key); // up again: the next time it is down is a new stop
      return { response: res };
    }
    const told = await wakeOnce();
    if (!told) return { response: res };
    await res.body?.cancel().catch(() => undefined);
    return { told };
  };
  return {
    ...(origin.label !== undefined ? { label: origin.label } : {}),
    async fetch(path, init, call?: OriginCallOptions) {
      let outcome = await attempt(path, init);
      const wait = call?.waitForStart;
      while (wait && 'told' in outcome && outcome.told instanceof VmNotReadyError) {
        const pause = Math.min(pollMs, wait.until - now());
        if (pause <= 0) break;
        wait.progress(outcome.told.progress);
        // a cancelled call stops waiting with its abort, as its origin call would
        await sleep(pause, init?.signal ?? undefined);
        outcome = await attempt(path, init);
      }
      if ('response' in outcome) return outcome.response;
      throw outcome.told;
    },
  };
}

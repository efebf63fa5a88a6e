/**
 * A stateful loopback emulator of the AWS EC2 Query API (and STS GetCallerIdentity), faithful enough
 * for the real @aws-sdk/client-ec2 / client-sts pointed at it with `endpoint` or AWS_ENDPOINT_URL_EC2
 * / AWS_ENDPOINT_URL_STS, and strict enough to fail where real AWS would.
 *
 * Wire: `POST /` form bodies (or GET query strings); answers `<XxxResponse xmlns=…><requestId>…` and
 * errors `<Response><Errors><Error><Code>…` (STS: `<ErrorResponse>`). Every request needs a SigV4
 * `Authorization` header (401 AuthFailure otherwise); with `accessKeyId` the key id must match, with
 * `secretAccessKey` the signature is recomputed. Requests are routed by the credential scope's region:
 * each region is seeded lazily with a default VPC (172.31.0.0/16, one default subnet per zone), a
 * second non-default VPC with a private subnet, a default security group per VPC, and public AMIs
 * (Canonical Ubuntu 24.04/22.04 amd64+arm64 of several dates, one deprecated, Amazon Linux, and a
 * newer look-alike "ubuntu" image from a stranger's account that only Owners=099720109477 excludes).
 *
 * Behaviour: unknown parameters → UnknownParameter, unknown filters → InvalidParameterValue, ids are
 * format-checked (…Malformed) before lookup (…NotFound). DryRun runs the request for validation, rolls
 * the state back and answers 412 DryRunOperation. Instance states advance lazily from timestamps
 * (pending→running, stopping→stopped, shutting-down→terminated after `transitionMs`); a public IPv4 is
 * assigned on entering running and released on stop (an Elastic IP stays across stop/start and is
 * disassociated on termination); volumes with DeleteOnTermination disappear with the instance;
 * terminated instances stay visible for `terminatedRetentionMs`.
 */
import type { AddressInfo } from 'node:net';
import type { EmulatorControls } from './context.js';
import { EmulatorState } from './model.js';
import { createEc2Server, type RequestLogEntry } from './server.js';
import { taggableResources } from './actions-tags.js';
import { CONSOLE_OUTPUT_MAX_BYTES } from './actions-instances.js';
import { loadPolicy, type PolicyDocument } from './iam-policy.js';
import { defaultCapacityControls } from './capacity.js';
import { FaultInjector } from '../faults/injector.js';
import { IamState } from './iam-service.js';

export { EmulatorState } from './model.js';
export type { Address, Image, Instance, InstanceStateName, SecurityGroup, SgRule, Subnet, Volume, Vpc } from './model.js';
export type { RequestLogEntry } from './server.js';
export { CANONICAL_OWNER, INSTANCE_TYPES, REGIONS } from './catalog.js';
export { loadPolicy, type PolicyDocument } from './iam-policy.js';

export const DEPLOYMENT_TAG = 'crawl4ai-mcp:deployment';

export interface Ec2EmulatorOptions {
  /** default '123456789012' */
  accountId?: string;
  /**
   * if set, requests signed with another key id get 401 AuthFailure (STS: 403 InvalidClientTokenId);
   * a list accepts each (the request log says which one signed). An ASIA… (temporary) key id is
   * refused the same way without an X-Amz-Security-Token header.
   */
  accessKeyId?: string | string[];
  /** if set, the SigV4 signature is recomputed and checked (403 SignatureDoesNotMatch) */
  secretAccessKey?: string;
  /** pending→running, stopping→stopped, shutting-down→terminated delay; default 300 */
  transitionMs?: number;
  /** after RunInstances / CreateSecurityGroup / AllocateAddress, lookups of the new id answer …NotFound this long; default 0 */
  consistencyDelayMs?: number;
  /** max items per Describe page before NextToken (default 1000) */
  pageSize?: number;
  /** how long terminated instances stay visible in DescribeInstances; default 1 hour */
  terminatedRetentionMs?: number;
  /** running vCPU quota per region (VcpuLimitExceeded); default 64 */
  vcpuLimit?: number;
  /** Elastic IPs per region (AddressLimitExceeded); default 5 */
  addressLimit?: number;
  /** time source (epoch ms); default Date.now */
  clock?: () => number;
  /**
   * The identity policy of the caller: every EC2 call (DryRun too) is judged by it, with the
   * resource ARNs and condition keys EC2 supplies, and refused with 403 UnauthorizedOperation when
   * no statement allows it. `'template'` loads templates/policies/aws-iam-policy.json. Default: none
   * (everything allowed, except `denyActions`).
   */
  iamPolicy?: PolicyDocument | 'template';
}

export interface Ec2Emulator {
  /** http://127.0.0.1:PORT */
  url: string;
  close(): Promise<void>;
  /** live resources tagged crawl4ai-mcp:deployment=<name>: instances not yet terminated, security groups, Elastic IPs, volumes (all regions) */
  resourcesOf(deployment: string): Array<{ type: string; id: string; state?: string }>;
  /** the model, with timed transitions applied on every read */
  readonly state: EmulatorState;
  /** the next n requests answer 503 RequestLimitExceeded (STS: 400 Throttling) */
  throttleNext(n: number): void;
  /** these actions ('RunInstances' or 'ec2:RunInstances') answer 403 UnauthorizedOperation, DryRun or not; replaces the previous list */
  denyActions(actions: string[]): void;
  /** replaces the identity policy (null: everything allowed again) */
  useIamPolicy(policy: PolicyDocument | 'template' | null): void;
  /** RunInstances/StartInstances with these types → 500 InsufficientInstanceCapacity; replaces the previous list */
  insufficientCapacity(instanceTypes: string[]): void;
  /** fault injection: `faults.failCall('RunInstances', 2, 'lost')` makes the 2nd next RunInstances take effect but lose its answer */
  faults: FaultInjector;
  /** RunInstances/StartInstances of `instanceType` in these zones (e.g. us-east-1a) → 500 InsufficientInstanceCapacity naming the zones that have it; [] restores */
  zoneWithoutCapacity(instanceType: string, zones: string[]): void;
  /** deletes the default VPC (with its subnets and default group) in every region, now and for regions seeded later */
  removeDefaultVpc(): void;
  /** the VM writes `text` to its serial console (what GetConsoleOutput returns; the last 64 KB are kept) */
  writeConsole(instanceId: string, text: string): void;
  /**
   * The guest runs `shutdown -h now` (the idle watchdog): a running instance moves to stopping →
   * stopped, or shutting-down → terminated when its InstanceInitiatedShutdownBehavior is terminate.
   */
  guestShutdown(instanceId: string): void;
  /** every request received, in order */
  requests: RequestLogEntry[];
  /** IAM on the same server (point AWS_ENDPOINT_URL_IAM at `url`): its users, policies and keys */
  readonly iam: IamState;
}

export async function startEc2Emulator(opts: Ec2EmulatorOptions = {}): Promise<Ec2Emulator> {
  const accountId = opts.accountId ?? '123456789012';
  const transitionMs = opts.transitionMs ?? 300;
  const model = new EmulatorState({
    accountId,
    transitionMs,
    terminatedRetentionMs: opts.terminatedRetentionMs ?? 3_600_000,
    clock: opts.clock ?? Date.now,
  });
  const controls: EmulatorControls = {
    accountId,
    pageSize: opts.pageSize ?? 1000,
    consistencyDelayMs: opts.consistencyDelayMs ?? 0,
    transitionMs,
    vcpuLimit: opts.vcpuLimit ?? 64,
    addressLimit: opts.addressLimit ?? 5,
    deniedActions: new Set(),
    insufficientCapacity: new Set(),
    ...(opts.iamPolicy ? { iamPolicy: opts.iamPolicy === 'template' ? loadPolicy() : opts.iamPolicy } : {}),
    capacity: defaultCapacityControls(),
  };
  const requests: RequestLogEntry[] = [];
  const throttle = { remaining: 0 };
  const faults = new FaultInjector();
  const iam = new IamState(accountId, opts.clock ?? Date.now);
  const server = createEc2Server({
    state: model,
    controls,
    credentials: {
      accessKeyIds: opts.accessKeyId === undefined ? undefined : [opts.accessKeyId].flat(),
      secretAccessKey: opts.secretAccessKey,
    },
    requests,
    throttle,
    faults,
    iam,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    resourcesOf(deployment) {
      model.tick();
      return taggableResources(model)
        .filter((r) => ['instance', 'security-group', 'elastic-ip', 'volume'].includes(r.type))
        .filter((r) => r.tags[DEPLOYMENT_TAG] === deployment && !(r.type === 'instance' && r.state === 'terminated'))
        .map((r) => ({ type: r.type, id: r.id, ...(r.state !== undefined ? { state: r.state } : {}) }));
    },
    get state() {
      model.tick();
      return model;
    },
    throttleNext(n) {
      throttle.remaining = n;
    },
    denyActions(actions) {
      controls.deniedActions = new Set(actions);
    },
    useIamPolicy(policy) {
      controls.iamPolicy = policy === null ? undefined : policy === 'template' ? loadPolicy() : policy;
    },
    insufficientCapacity(types) {
      controls.insufficientCapacity = new Set(types);
    },
    faults,
    zoneWithoutCapacity(type, zones) {
      controls.capacity.noCapacity.set(type, new Set(zones));
    },
    removeDefaultVpc() {
      model.removeDefaultVpc();
    },
    writeConsole(instanceId, text) {
      const inst = model.instances.get(instanceId);
      if (!inst) throw new Error(`writeConsole: no instance ${instanceId}`);
      const all = Buffer.from((inst.consoleOutput ?? '') + text, 'utf8');
      inst.consoleOutput = all.subarray(Math.max(0, all.length - CONSOLE_OUTPUT_MAX_BYTES)).toString('utf8');
      inst.consoleAt = (opts.clock ?? Date.now)();
    },
    guestShutdown(instanceId) {
      model.tick();
      const inst = model.instances.get(instanceId);
      if (!inst) throw new Error(`guestShutdown: no instance ${instanceId}`);
      if (inst.state !== 'running') return; // a guest that is not running cannot shut itself down
      const now = (opts.clock ?? Date.now)();
      const terminate = inst.instanceInitiatedShutdownBehavior === 'terminate';
      // EC2 dates a stop from inside the guest like an API stop; only StateReason tells them apart
      model.setState(inst, terminate ? 'shutting-down' : 'stopping', now, `User initiated (${new Date(now).toISOString().replace('T', ' ').slice(0, 19)} GMT)`);
      inst.stateReason = { code: 'Client.InstanceInitiatedShutdown', message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown' };
    },
    requests,
    iam,
  };
}

/**
 * The state of the Compute Engine emulator: instances, boot disks, firewall rules, static addresses
 * and zone / region / global operations of one project. Time-driven changes (operations RUNNING ->
 * DONE, instance statuses) are scheduled as effects and applied lazily on every read (tick()).
 */
import { randomBytes, randomInt } from 'node:crypto';

export const SELF_LINK_BASE = 'https://www.googleapis.com/compute/v1/';

export const REGION_ZONES: Readonly<Record<string, string[]>> = {
  'us-central1': ['us-central1-a', 'us-central1-b', 'us-central1-c', 'us-central1-f'],
  'us-east1': ['us-east1-b', 'us-east1-c', 'us-east1-d'],
  'us-west1': ['us-west1-a', 'us-west1-b', 'us-west1-c'],
  'europe-west1': ['europe-west1-b', 'europe-west1-c', 'europe-west1-d'],
  'europe-west4': ['europe-west4-a', 'europe-west4-b', 'europe-west4-c'],
  'asia-southeast1': ['asia-southeast1-a', 'asia-southeast1-b', 'asia-southeast1-c'],
  'asia-northeast1': ['asia-northeast1-a', 'asia-northeast1-b', 'asia-northeast1-c'],
};

export const MACHINE_TYPES: Readonly<Record<string, { vcpus: number; memoryMb: number }>> = {
  'e2-micro': { vcpus: 2, memoryMb: 1024 },
  'e2-small': { vcpus: 2, memoryMb: 2048 },
  'e2-medium': { vcpus: 2, memoryMb: 4096 },
  'e2-standard-2': { vcpus: 2, memoryMb: 8192 },
  'e2-standard-4': { vcpus: 4, memoryMb: 16384 },
  'n2-standard-2': { vcpus: 2, memoryMb: 8192 },
};

export interface Image {
  name: string;
  project: string;
  family: string;
  deprecated?: boolean;
  diskSizeGb: number;
  creationTimestamp: string;
}

export const IMAGES: readonly Image[] = [
  { name: 'ubuntu-2404-noble-amd64-v20260901', project: 'ubuntu-os-cloud', family: 'ubuntu-2404-lts-amd64', diskSizeGb: 10, creationTimestamp: '2026-09-01T00:00:00Z' },
  { name: 'ubuntu-2404-noble-amd64-v20261101', project: 'ubuntu-os-cloud', family: 'ubuntu-2404-lts-amd64', diskSizeGb: 10, creationTimestamp: '2026-11-01T00:00:00Z' },
  // newer, but deprecated: getFromFamily must skip it
  { name: 'ubuntu-2404-noble-amd64-v20261115', project: 'ubuntu-os-cloud', family: 'ubuntu-2404-lts-amd64', deprecated: true, diskSizeGb: 10, creationTimestamp: '2026-11-15T00:00:00Z' },
  { name: 'ubuntu-2204-jammy-v20261101', project: 'ubuntu-os-cloud', family: 'ubuntu-2204-lts', diskSizeGb: 10, creationTimestamp: '2026-11-01T00:00:00Z' },
];

export type InstanceStatus = 'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'TERMINATED';

export interface MetadataItem {
  key: string;
  value?: string;
}

export interface Instance {
  id: string;
  name: string;
  zone: string;
  machineType: string;
  status: InstanceStatus;
  creationTimestamp: string;
  createdAt: number;
  /** RFC 3339, as Compute reports them: set when the instance reaches RUNNING / TERMINATED */
  lastStartTimestamp?: string;
  lastStopTimestamp?: string;
  disk: Disk;
  network: string;
  /** the static address asked for in accessConfigs.natIP, if any */
  natIP?: string;
  /** whether an external IPv4 was asked for (an accessConfig) */
  external: boolean;
  /** ephemeral external IPv4 while running (when no natIP) */
  ephemeralIp?: string;
  networkIP: string;
  metadata: { fingerprint: string; items: MetadataItem[] };
  tags: string[];
  labels: Record<string, string>;
  /** changes with each setLabels (absent: the creation value) */
  labelFingerprint?: string;
  shielded: { enableSecureBoot: boolean; enableVtpm: boolean; enableIntegrityMonitoring: boolean };
  serviceAccounts: Array<{ email: string; scopes: string[] }>;
  requestId?: string;
  /** what the VM wrote to serial port 1 (the last 1 MB kept) and how many older bytes were dropped */
  serial?: { bytes: Buffer; dropped: number };
}

export interface Disk {
  name: string;
  sizeGb: number;
  sourceImage: string;
  type: string;
  labels: Record<string, string>;
  autoDelete: boolean;
  /** Compute Engine encrypts every disk at rest (Google-managed keys unless a CMEK is given) */
  encrypted: true;
}

export interface FirewallRule {
  id: string;
  name: string;
  network: string;
  direction: 'INGRESS' | 'EGRESS';
  priority: number;
  sourceRanges: string[];
  targetTags: string[];
  allowed: Array<{ IPProtocol: string; ports?: string[] }>;
  denied: Array<{ IPProtocol: string; ports?: string[] }>;
  description: string;
  creationTimestamp: string;
}

export interface StaticAddress {
  id: string;
  name: string;
  region: string;
  address: string;
  labels: Record<string, string>;
  description: string;
  creationTimestamp: string;
}

export interface OperationError {
  code: string;
  message: string;
}

export interface Operation {
  id: string;
  name: string;
  scope: { zone?: string; region?: string };
  operationType: string;
  targetLink: string;
  targetId?: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  insertTime: string;
  endTime?: string;
  doneAt: number;
  error?: OperationError[];
  requestId?: string;
}

interface Effect {
  at: number;
  seq: number;
  /** called with its due time (effects apply lazily, later than that) */
  run(at: number): void;
}

export class GceState {
  readonly project: string;
  readonly instances = new Map<string, Instance>(); // key zone/name
  readonly firewalls = new Map<string, FirewallRule>();
  readonly addresses = new Map<string, StaticAddress>(); // key region/name
  readonly operations = new Map<string, Operation>();
  /** requestId -> operation name (Compute deduplicates a retried insert with the same requestId) */
  readonly requestIds = new Map<string, string>();
  readonly networks = new Set<string>(['default']);
  private effects: Effect[] = [];
  private seq = 0;

  constructor(project: string, readonly clock: () => number = Date.now) {
    this.project = project;
    this.seedDefaultNetworkRules();
  }

  now(): number {
    return this.clock();
  }

  /** The rules every default network is created with: SSH, RDP and ICMP from anywhere. */
  private seedDefaultNetworkRules(): void {
    const rule = (name: string, allowed: FirewallRule['allowed'], sourceRanges: string[]): FirewallRule => ({
      id: this.newId(),
      name,
      network: 'default',
      direction: 'INGRESS',
      priority: 65534,
      sourceRanges,
      targetTags: [],
      allowed,
      denied: [],
      description: `Allow ${name.replace('default-allow-', '')} from anywhere`,
      creationTimestamp: new Date(this.now()).toISOString(),
    });
    for (const r of [
      rule('default-allow-ssh', [{ IPProtocol: 'tcp', ports: ['22'] }], ['0.0.0.0/0']),
      rule('default-allow-rdp', [{ IPProtocol: 'tcp', ports: ['3389'] }], ['0.0.0.0/0']),
      rule('default-allow-icmp', [{ IPProtocol: 'icmp' }], ['0.0.0.0/0']),
      rule('default-allow-internal', [{ IPProtocol: 'tcp', ports: ['0-65535'] }, { IPProtocol: 'udp', ports: ['0-65535'] }, { IPProtocol: 'icmp' }], ['10.128.0.0/9']),
    ]) {
      this.firewalls.set(r.name, r);
    }
  }

  removeDefaultNetwork(): void {
    this.networks.delete('default');
    for (const [name, r] of this.firewalls) if (r.network === 'default') this.firewalls.delete(name);
  }

  newId(): string {
    return String(randomInt(1, 2 ** 47)) + String(randomInt(100000, 999999));
  }

  fingerprint(): string {
    return randomBytes(8).toString('base64');
  }

  /** Schedules `run` at `at` (ms since epoch); applied by tick() in time order, given its due time. */
  schedule(at: number, run: (at: number) => void): void {
    this.effects.push({ at, seq: this.seq++, run });
  }

  /** Applies every effect that is due. */
  tick(): void {
    const now = this.now();
    for (;;) {
      const due = this.effects.filter((e) => e.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) return;
      this.effects = this.effects.filter((e) => e !== due);
      due.run(due.at);
    }
  }

  newOperation(scope: Operation['scope'], operationType: string, targetLink: string, durationMs: number, requestId?: string): Operation {
    const now = this.now();
    const op: Operation = {
      id: this.newId(),
      name: `operation-${now}-${randomBytes(6).toString('hex')}`,
      scope,
      operationType,
      targetLink,
      status: 'RUNNING',
      insertTime: new Date(now).toISOString(),
      doneAt: now + durationMs,
      ...(requestId ? { requestId } : {}),
    };
    this.operations.set(op.name, op);
    if (requestId) this.requestIds.set(requestId, op.name);
    this.schedule(op.doneAt, () => {
      op.status = 'DONE';
      op.endTime = new Date(this.now()).toISOString();
    });
    return op;
  }

  findInstance(zone: string, name: string): Instance | undefined {
    return this.instances.get(`${zone}/${name}`);
  }

  /** The external IPv4 an instance answers on right now. */
  externalIpOf(inst: Instance): string | undefined {
    if (inst.status !== 'RUNNING' && inst.status !== 'STOPPING') return undefined;
    return inst.natIP ?? inst.ephemeralIp;
  }

  randomPublicIp(): string {
    return `34.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  }

  /**
   * Whether TCP `port` of the instance can be reached from `sourceIp` on the internet: the
   * instance must run with an external address; the network's ingress rules that apply to it
   * (no target tags, or one of its tags) are evaluated by priority, deny before allow at equal
   * priority; the first match decides, and no match is the implied deny.
   */
  reachable(inst: Instance, port: number, sourceIp = '198.51.100.7'): boolean {
    if (!this.externalIpOf(inst)) return false;
    const matches = (entries: FirewallRule['allowed']) =>
      entries.some((e) => {
        if (e.IPProtocol !== 'all' && e.IPProtocol !== 'tcp' && e.IPProtocol !== '6') return false;
        if (!e.ports || e.ports.length === 0) return true;
        return e.ports.some((p) => {
          const [from, to] = p.split('-').map(Number);
          return from! <= port && port <= (to ?? from!);
        });
      });
    const applicable = [...this.firewalls.values()]
      .filter((r) => r.network === inst.network && r.direction === 'INGRESS')
      .filter((r) => r.targetTags.length === 0 || r.targetTags.some((t) => inst.tags.includes(t)))
      .filter((r) => r.sourceRanges.some((cidr) => cidrContains(cidr, sourceIp)))
      .filter((r) => (r.denied.length ? matches(r.denied) : matches(r.allowed)))
      .sort((a, b) => a.priority - b.priority || Number(b.denied.length > 0) - Number(a.denied.length > 0));
    const first = applicable[0];
    return first !== undefined && first.denied.length === 0;
  }
}

/** IPv4 CIDR membership (IPv6 ranges never contain an IPv4 source). */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split('/');
  if (!base || base.includes(':') || ip.includes(':')) return base?.includes(':') === true && ip.includes(':');
  const bits = Number(bitsText ?? 32);
  const toInt = (a: string) => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(base) & mask) === (toInt(ip) & mask);
}

/** The emulator's state: every resource, with lifecycle transitions computed lazily from timestamps. */
import { createHash, randomBytes } from 'node:crypto';
import { IMAGE_TEMPLATES, REGIONS, type RegionInfo } from './catalog.js';

export type InstanceStateName = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
export const STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export type Tags = Record<string, string>;

export interface MetadataOptions {
  httpTokens: 'optional' | 'required';
  httpPutResponseHopLimit: number;
  httpEndpoint: 'enabled' | 'disabled';
  httpProtocolIpv6: 'enabled' | 'disabled';
  instanceMetadataTags: 'enabled' | 'disabled';
}

export interface Instance {
  instanceId: string;
  region: string;
  reservationId: string;
  ownerId: string;
  imageId: string;
  instanceType: string;
  architecture: string;
  /** current state; advanced by EmulatorState.tick() */
  state: InstanceStateName;
  /** epoch ms when `state` was entered */
  stateSince: number;
  stateTransitionReason: string;
  stateReason?: { code: string; message: string };
  launchTime: number;
  /** epoch ms of RunInstances (the eventual-consistency window starts here) */
  createdAt: number;
  az: string;
  subnetId: string;
  vpcId: string;
  privateIp: string;
  /** auto-assigned public IPv4 (only while running, and only when no Elastic IP is associated) */
  ephemeralPublicIp?: string;
  assignPublicIp: boolean;
  securityGroupIds: string[];
  keyName?: string;
  iamInstanceProfile?: { arn?: string; name?: string };
  /** what the VM wrote to its serial console (GetConsoleOutput), the last 64 KB kept */
  consoleOutput?: string;
  /** epoch ms of the last console write */
  consoleAt?: number;
  /** decoded (utf-8) user data, as the VM would see it */
  userData?: string;
  userDataBase64?: string;
  clientToken: string;
  tags: Tags;
  metadataOptions: MetadataOptions;
  blockDevices: Array<{ deviceName: string; volumeId: string; deleteOnTermination: boolean; attachTime: number }>;
  rootDeviceName: string;
  networkInterfaceId: string;
  macAddress: string;
  disableApiTermination: boolean;
  ebsOptimized: boolean;
  amiLaunchIndex: number;
  monitoring: 'disabled' | 'enabled';
  terminatedAt?: number;
  /** burstable (T) types only: the CPU credit option; EC2 launches T3 'unlimited' unless told otherwise */
  cpuCredits?: 'standard' | 'unlimited';
  /** what a shutdown from inside the guest does: 'stop' (default) or 'terminate' */
  instanceInitiatedShutdownBehavior: 'stop' | 'terminate';
}

export interface Volume {
  volumeId: string;
  region: string;
  az: string;
  size: number;
  volumeType: string;
  iops?: number;
  throughput?: number;
  encrypted: boolean;
  kmsKeyId?: string;
  snapshotId?: string;
  state: 'creating' | 'available' | 'in-use' | 'deleting';
  createTime: number;
  tags: Tags;
  attachment?: { instanceId: string; device: string; deleteOnTermination: boolean; attachTime: number; state: 'attached' | 'detached' };
}

export interface SgRule {
  ruleId: string;
  /** tcp | udp | icmp | icmpv6 | -1 | a protocol number */
  protocol: string;
  fromPort?: number;
  toPort?: number;
  cidrIpv4?: string;
  cidrIpv6?: string;
  prefixListId?: string;
  referencedGroupId?: string;
  description?: string;
  tags: Tags;
}

export interface SecurityGroup {
  groupId: string;
  region: string;
  groupName: string;
  description: string;
  vpcId: string;
  ownerId: string;
  tags: Tags;
  ingress: SgRule[];
  egress: SgRule[];
  /** the VPC's "default" group (cannot be deleted) */
  isDefault: boolean;
}

export interface Address {
  allocationId: string;
  region: string;
  publicIp: string;
  domain: 'vpc';
  tags: Tags;
  associationId?: string;
  instanceId?: string;
  networkInterfaceId?: string;
  privateIp?: string;
}

export interface Image {
  imageId: string;
  region: string;
  name: string;
  description: string;
  ownerId: string;
  ownerAlias?: string;
  architecture: string;
  creationDate: string;
  state: 'available' | 'pending' | 'failed';
  public: boolean;
  rootDeviceName: string;
  rootSize: number;
  snapshotId: string;
  deprecationTime?: string;
  tags: Tags;
}

export interface Vpc {
  vpcId: string;
  region: string;
  cidrBlock: string;
  cidrAssociationId: string;
  isDefault: boolean;
  state: 'available';
  dhcpOptionsId: string;
  ownerId: string;
  tags: Tags;
}

export interface Subnet {
  subnetId: string;
  region: string;
  vpcId: string;
  az: string;
  azId: string;
  cidrBlock: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
  state: 'available';
  ownerId: string;
  tags: Tags;
  /** next host number handed out inside cidrBlock */
  nextHost: number;
  available: number;
}

export interface ClientTokenRecord {
  fingerprint: string;
  reservationId: string;
  instanceIds: string[];
  region: string;
}

export const hexId = (prefix: string, len = 17) => `${prefix}-${randomBytes(Math.ceil(len / 2)).toString('hex').slice(0, len)}`;
const stableHex = (seed: string, len = 17) => createHash('sha256').update(seed).digest('hex').slice(0, len);

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}
export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface ModelOptions {
  accountId: string;
  transitionMs: number;
  terminatedRetentionMs: number;
  clock: () => number;
}

export class EmulatorState {
  readonly instances = new Map<string, Instance>();
  readonly volumes = new Map<string, Volume>();
  readonly securityGroups = new Map<string, SecurityGroup>();
  readonly addresses = new Map<string, Address>();
  readonly images = new Map<string, Image>();
  readonly vpcs = new Map<string, Vpc>();
  readonly subnets = new Map<string, Subnet>();
  readonly clientTokens = new Map<string, ClientTokenRecord>();
  /** regions whose default network and images have been created */
  readonly seededRegions = new Set<string>();
  noDefaultVpc = false;
  private publicIpCounter = 0;
  private eipCounter = 0;

  constructor(readonly opts: ModelOptions) {}

  get accountId(): string {
    return this.opts.accountId;
  }

  now(): number {
    return this.opts.clock();
  }

  regionInfo(region: string): RegionInfo | undefined {
    return REGIONS.find((r) => r.name === region);
  }

  /** Lazily seeds a region the first time a request is signed for it. */
  ensureRegion(region: string): void {
    if (this.seededRegions.has(region)) return;
    this.seededRegions.add(region);
    const info = this.regionInfo(region);
    if (!info) return;
    for (const t of IMAGE_TEMPLATES) {
      const imageId = `ami-${stableHex(`${region}/${t.ownerId}/${t.name}`)}`;
      this.images.set(imageId, {
        imageId,
        region,
        name: t.name,
        description: t.description,
        ownerId: t.ownerId,
        ownerAlias: t.ownerAlias,
        architecture: t.arch,
        creationDate: t.creationDate,
        state: 'available',
        public: true,
        rootDeviceName: t.rootDeviceName,
        rootSize: t.rootSize,
        snapshotId: `snap-${stableHex(`snap/${region}/${t.name}/${t.ownerId}`)}`,
        deprecationTime: t.deprecated ? '2025-05-01T00:00:00.000Z' : new Date(Date.parse(t.creationDate) + 2 * 365 * 86400_000).toISOString(),
        tags: {},
      });
    }
    if (!this.noDefaultVpc) this.createVpc(region, '172.31.0.0/16', true);
    // A second, non-default VPC with one private subnet: "take the first VPC" is a bug here.
    const custom = this.createVpc(region, '10.20.0.0/16', false, { Name: 'corp-internal' });
    this.createSubnet(custom, info.zones[0]!, info, 0, '10.20.1.0/24', false, false);
  }

  createVpc(region: string, cidr: string, isDefault: boolean, tags: Tags = {}): Vpc {
    const vpc: Vpc = {
      vpcId: hexId('vpc'),
      region,
      cidrBlock: cidr,
      cidrAssociationId: hexId('vpc-cidr-assoc'),
      isDefault,
      state: 'available',
      dhcpOptionsId: hexId('dopt'),
      ownerId: this.accountId,
      tags,
    };
    this.vpcs.set(vpc.vpcId, vpc);
    const sg: SecurityGroup = {
      groupId: hexId('sg'),
      region,
      groupName: 'default',
      description: 'default VPC security group',
      vpcId: vpc.vpcId,
      ownerId: this.accountId,
      tags: {},
      ingress: [],
      egress: [{ ruleId: hexId('sgr'), protocol: '-1', cidrIpv4: '0.0.0.0/0', tags: {} }],
      isDefault: true,
    };
    sg.ingress.push({ ruleId: hexId('sgr'), protocol: '-1', referencedGroupId: sg.groupId, tags: {} });
    this.securityGroups.set(sg.groupId, sg);
    if (isDefault) {
      const info = this.regionInfo(region)!;
      info.zones.forEach((z, i) => {
        this.createSubnet(vpc, z, info, i, `172.31.${i * 16}.0/20`, true, true);
      });
    }
    return vpc;
  }

  private createSubnet(vpc: Vpc, zone: string, info: RegionInfo, index: number, cidr: string, defaultForAz: boolean, mapPublic: boolean): Subnet {
    const prefix = Number(cidr.split('/')[1]);
    const subnet: Subnet = {
      subnetId: hexId('subnet'),
      region: vpc.region,
      vpcId: vpc.vpcId,
      az: `${info.name}${zone}`,
      azId: `${info.zoneIdPrefix}-az${index + 1}`,
      cidrBlock: cidr,
      defaultForAz,
      mapPublicIpOnLaunch: mapPublic,
      state: 'available',
      ownerId: this.accountId,
      tags: {},
      nextHost: 10,
      available: 2 ** (32 - prefix) - 5,
    };
    this.subnets.set(subnet.subnetId, subnet);
    return subnet;
  }

  removeDefaultVpc(): void {
    this.noDefaultVpc = true;
    for (const vpc of [...this.vpcs.values()]) {
      if (!vpc.isDefault) continue;
      this.vpcs.delete(vpc.vpcId);
      for (const s of [...this.subnets.values()]) if (s.vpcId === vpc.vpcId) this.subnets.delete(s.subnetId);
      for (const g of [...this.securityGroups.values()]) if (g.vpcId === vpc.vpcId) this.securityGroups.delete(g.groupId);
    }
  }

  defaultVpc(region: string): Vpc | undefined {
    return [...this.vpcs.values()].find((v) => v.region === region && v.isDefault);
  }

  allocatePrivateIp(subnet: Subnet): string {
    const [base] = subnet.cidrBlock.split('/');
    const ip = intToIp(ipToInt(base!) + subnet.nextHost++);
    subnet.available--;
    return ip;
  }

  allocatePublicIp(): string {
    const n = this.publicIpCounter++;
    return `54.${160 + ((n >> 16) & 31)}.${(n >> 8) & 255}.${(n & 255) + 1 > 254 ? 254 : (n & 255) + 1}`;
  }

  allocateElasticIp(): string {
    const n = this.eipCounter++;
    return `3.${210 + ((n >> 16) & 31)}.${(n >> 8) & 255}.${(n % 250) + 2}`;
  }

  /** The public IPv4 an instance shows right now (Elastic IP wins over the auto-assigned one). */
  publicIpOf(inst: Instance): string | undefined {
    const eip = [...this.addresses.values()].find((a) => a.instanceId === inst.instanceId);
    return eip?.publicIp ?? inst.ephemeralPublicIp;
  }

  setState(inst: Instance, state: InstanceStateName, at: number, reason?: string): void {
    inst.state = state;
    inst.stateSince = at;
    if (reason !== undefined) inst.stateTransitionReason = reason;
  }

  /** Advances every timed transition whose deadline has passed. Idempotent; call before reading. */
  tick(): void {
    const now = this.now();
    const T = this.opts.transitionMs;
    for (const inst of [...this.instances.values()]) {
      for (;;) {
        const due = inst.stateSince + T;
        if (inst.state === 'terminated' || inst.state === 'running' || inst.state === 'stopped' || now < due) break;
        if (inst.state === 'pending') {
          this.setState(inst, 'running', due);
          if (inst.assignPublicIp && !this.publicIpOf(inst)) inst.ephemeralPublicIp = this.allocatePublicIp();
        } else if (inst.state === 'stopping') {
          this.setState(inst, 'stopped', due);
          inst.ephemeralPublicIp = undefined;
          // a shutdown from inside the guest keeps its own reason
          if (inst.stateReason?.code !== 'Client.InstanceInitiatedShutdown') {
            inst.stateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
          }
        } else if (inst.state === 'shutting-down') {
          this.setState(inst, 'terminated', due);
          inst.terminatedAt = due;
          inst.ephemeralPublicIp = undefined;
          inst.stateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
          for (const a of this.addresses.values()) {
            if (a.instanceId === inst.instanceId) {
              a.associationId = a.instanceId = a.networkInterfaceId = a.privateIp = undefined;
            }
          }
          for (const bd of inst.blockDevices) {
            const vol = this.volumes.get(bd.volumeId);
            if (!vol) continue;
            if (bd.deleteOnTermination) this.volumes.delete(vol.volumeId);
            else {
              vol.state = 'available';
              vol.attachment = undefined;
            }
          }
        }
      }
      if (inst.state === 'terminated' && inst.terminatedAt !== undefined && now - inst.terminatedAt > this.opts.terminatedRetentionMs) {
        this.instances.delete(inst.instanceId);
      }
    }
    for (const vol of this.volumes.values()) {
      if (vol.state === 'creating' && now >= vol.createTime + T) vol.state = vol.attachment ? 'in-use' : 'available';
    }
  }

  /** The current state of an instance (by object or id), with due transitions applied first. */
  instanceState(inst: Instance | string): InstanceStateName | undefined {
    this.tick();
    return this.instances.get(typeof inst === 'string' ? inst : inst.instanceId)?.state;
  }

  /**
   * Saves everything mutable so a DryRun can validate by really executing and then roll back.
   * Rollback restores the original objects' contents, so references held by tests stay live.
   */
  snapshot(): () => void {
    const maps = [this.instances, this.volumes, this.securityGroups, this.addresses, this.images, this.vpcs, this.subnets, this.clientTokens] as unknown as Array<Map<string, Record<string, unknown>>>;
    const saved = maps.map((m) => [...m].map(([k, obj]) => ({ k, obj, copy: structuredClone(obj) })));
    const counters = [this.publicIpCounter, this.eipCounter] as const;
    const seeded = new Set(this.seededRegions);
    return () => {
      maps.forEach((m, i) => {
        m.clear();
        for (const { k, obj, copy } of saved[i]!) {
          for (const key of Object.keys(obj)) delete obj[key];
          m.set(k, Object.assign(obj, copy));
        }
      });
      [this.publicIpCounter, this.eipCounter] = counters;
      this.seededRegions.clear();
      for (const r of seeded) this.seededRegions.add(r);
    };
  }
}

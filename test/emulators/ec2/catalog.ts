/** Static catalog the emulator seeds from: regions, zones, instance types and public AMIs. */

export interface RegionInfo {
  name: string;
  /** zone letters; real regions skip letters (us-west-1 has a/c, ap-northeast-1 a/c/d) */
  zones: string[];
  /** AZ id prefix, e.g. use1 → use1-az1 */
  zoneIdPrefix: string;
  optIn: 'opt-in-not-required' | 'opted-in' | 'not-opted-in';
}

export const REGIONS: RegionInfo[] = [
  { name: 'us-east-1', zones: ['a', 'b', 'c', 'd', 'e', 'f'], zoneIdPrefix: 'use1', optIn: 'opt-in-not-required' },
  { name: 'us-east-2', zones: ['a', 'b', 'c'], zoneIdPrefix: 'use2', optIn: 'opt-in-not-required' },
  { name: 'us-west-1', zones: ['a', 'c'], zoneIdPrefix: 'usw1', optIn: 'opt-in-not-required' },
  { name: 'us-west-2', zones: ['a', 'b', 'c', 'd'], zoneIdPrefix: 'usw2', optIn: 'opt-in-not-required' },
  { name: 'ca-central-1', zones: ['a', 'b', 'd'], zoneIdPrefix: 'cac1', optIn: 'opt-in-not-required' },
  { name: 'sa-east-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'sae1', optIn: 'opt-in-not-required' },
  { name: 'eu-west-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'euw1', optIn: 'opt-in-not-required' },
  { name: 'eu-west-2', zones: ['a', 'b', 'c'], zoneIdPrefix: 'euw2', optIn: 'opt-in-not-required' },
  { name: 'eu-west-3', zones: ['a', 'b', 'c'], zoneIdPrefix: 'euw3', optIn: 'opt-in-not-required' },
  { name: 'eu-central-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'euc1', optIn: 'opt-in-not-required' },
  { name: 'eu-north-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'eun1', optIn: 'opt-in-not-required' },
  { name: 'ap-south-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'aps1', optIn: 'opt-in-not-required' },
  { name: 'ap-southeast-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'apse1', optIn: 'opt-in-not-required' },
  { name: 'ap-southeast-2', zones: ['a', 'b', 'c'], zoneIdPrefix: 'apse2', optIn: 'opt-in-not-required' },
  { name: 'ap-northeast-1', zones: ['a', 'c', 'd'], zoneIdPrefix: 'apne1', optIn: 'opt-in-not-required' },
  { name: 'ap-northeast-2', zones: ['a', 'b', 'c', 'd'], zoneIdPrefix: 'apne2', optIn: 'opt-in-not-required' },
  // opt-in regions: listed only with AllRegions=true; requests signed for them fail with AuthFailure
  { name: 'af-south-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'afs1', optIn: 'not-opted-in' },
  { name: 'ap-east-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'ape1', optIn: 'not-opted-in' },
  { name: 'me-south-1', zones: ['a', 'b', 'c'], zoneIdPrefix: 'mes1', optIn: 'not-opted-in' },
];

export interface InstanceTypeInfo {
  name: string;
  arch: 'x86_64' | 'arm64';
  vcpus: number;
  memMiB: number;
  burstable: boolean;
  network: string;
  hypervisor: 'nitro' | 'xen';
  clockGhz: number;
  manufacturer: string;
  freeTier?: boolean;
}

const t = (name: string, arch: 'x86_64' | 'arm64', vcpus: number, memMiB: number, network: string, extra: Partial<InstanceTypeInfo> = {}): InstanceTypeInfo => ({
  name,
  arch,
  vcpus,
  memMiB,
  burstable: name.startsWith('t'),
  network,
  hypervisor: 'nitro',
  clockGhz: arch === 'arm64' ? 2.5 : name.startsWith('t3') ? 2.5 : 3.2,
  manufacturer: arch === 'arm64' ? 'AWS' : 'Intel',
  ...extra,
});

export const INSTANCE_TYPES: InstanceTypeInfo[] = [
  t('t2.micro', 'x86_64', 1, 1024, 'Low to Moderate', { hypervisor: 'xen', clockGhz: 2.5 }),
  t('t3.micro', 'x86_64', 2, 1024, 'Up to 5 Gigabit', { freeTier: true }),
  t('t3.small', 'x86_64', 2, 2048, 'Up to 5 Gigabit'),
  t('t3.medium', 'x86_64', 2, 4096, 'Up to 5 Gigabit'),
  t('t3.large', 'x86_64', 2, 8192, 'Up to 5 Gigabit'),
  t('t3.xlarge', 'x86_64', 4, 16384, 'Up to 5 Gigabit'),
  t('t3.2xlarge', 'x86_64', 8, 32768, 'Up to 5 Gigabit'),
  t('m7i.large', 'x86_64', 2, 8192, 'Up to 12.5 Gigabit'),
  t('m7i.xlarge', 'x86_64', 4, 16384, 'Up to 12.5 Gigabit'),
  t('m7i.2xlarge', 'x86_64', 8, 32768, 'Up to 12.5 Gigabit'),
  t('c7i.large', 'x86_64', 2, 4096, 'Up to 12.5 Gigabit'),
  t('c7i.xlarge', 'x86_64', 4, 8192, 'Up to 12.5 Gigabit'),
  t('r7i.large', 'x86_64', 2, 16384, 'Up to 12.5 Gigabit'),
  t('t4g.small', 'arm64', 2, 2048, 'Up to 5 Gigabit'),
  t('t4g.medium', 'arm64', 2, 4096, 'Up to 5 Gigabit'),
  t('t4g.large', 'arm64', 2, 8192, 'Up to 5 Gigabit'),
  t('t4g.xlarge', 'arm64', 4, 16384, 'Up to 5 Gigabit'),
  t('m7g.large', 'arm64', 2, 8192, 'Up to 12.5 Gigabit'),
  t('m7g.xlarge', 'arm64', 4, 16384, 'Up to 12.5 Gigabit'),
];

export const CANONICAL_OWNER = '099720109477';
export const AMAZON_OWNER = '137112412989';
/** A stranger's public account publishing look-alike "ubuntu" images (owner filters matter). */
export const IMPOSTOR_OWNER = '111122223333';

export interface ImageTemplate {
  name: string;
  description: string;
  ownerId: string;
  ownerAlias?: string;
  arch: 'x86_64' | 'arm64';
  creationDate: string;
  rootDeviceName: string;
  rootSize: number;
  deprecated?: boolean;
}

const ubuntu = (series: string, version: string, arch: 'x86_64' | 'arm64', date: string, root = 'hvm-ssd-gp3', extra: Partial<ImageTemplate> = {}): ImageTemplate => {
  const a = arch === 'x86_64' ? 'amd64' : 'arm64';
  const stamp = date.slice(0, 10).replace(/-/g, '');
  return {
    name: `ubuntu/images/${root}/ubuntu-${series}-${version}-${a}-server-${stamp}`,
    description: `Canonical, Ubuntu, ${version} LTS, ${a} ${series} image`,
    ownerId: CANONICAL_OWNER,
    arch,
    creationDate: date,
    rootDeviceName: '/dev/sda1',
    rootSize: 8,
    ...extra,
  };
};

export const IMAGE_TEMPLATES: ImageTemplate[] = [
  ubuntu('noble', '24.04', 'x86_64', '2025-06-10T09:12:41.000Z'),
  ubuntu('noble', '24.04', 'x86_64', '2025-10-14T08:31:07.000Z'),
  ubuntu('noble', '24.04', 'arm64', '2025-06-10T09:15:02.000Z'),
  ubuntu('noble', '24.04', 'arm64', '2025-10-14T08:33:55.000Z'),
  ubuntu('noble', '24.04', 'x86_64', '2024-05-01T10:00:00.000Z', 'hvm-ssd-gp3', { deprecated: true }),
  ubuntu('jammy', '22.04', 'x86_64', '2025-09-30T07:45:12.000Z', 'hvm-ssd'),
  ubuntu('jammy', '22.04', 'arm64', '2025-09-30T07:48:40.000Z', 'hvm-ssd'),
  {
    name: 'ubuntu-minimal/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-minimal-20251101',
    description: 'Canonical, Ubuntu Minimal, 24.04, amd64 noble image',
    ownerId: CANONICAL_OWNER,
    arch: 'x86_64',
    creationDate: '2025-11-01T06:00:00.000Z',
    rootDeviceName: '/dev/sda1',
    rootSize: 8,
  },
  {
    name: 'al2023-ami-2023.9.20251110.0-kernel-6.1-x86_64',
    description: 'Amazon Linux 2023 AMI 2023.9.20251110.0 x86_64 HVM kernel-6.1',
    ownerId: AMAZON_OWNER,
    ownerAlias: 'amazon',
    arch: 'x86_64',
    creationDate: '2025-11-10T20:00:00.000Z',
    rootDeviceName: '/dev/xvda',
    rootSize: 8,
  },
  // Newer than every Canonical image and named like one: code that forgets Owners=099720109477 picks it.
  {
    name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20251120',
    description: 'Ubuntu 24.04 (community copy)',
    ownerId: IMPOSTOR_OWNER,
    arch: 'x86_64',
    creationDate: '2025-11-20T00:00:00.000Z',
    rootDeviceName: '/dev/sda1',
    rootSize: 8,
  },
];

import { usageError } from '../ground/errors.js';
import type { ProviderName, SizeName } from '../model/deployment.js';

/**
 * The dated price table behind `plan`, `init` and `status`. This is the one place that maps a size
 * to a machine type: the providers, `--help` and the wizard all read SIZES.
 *
 * Source: each cloud's public on-demand (pay-as-you-go) Linux list prices in USD, without
 * reservations, savings plans or free tiers, as published on PRICE_DATE. Base prices are for the
 * base region; other regions are a published relativity to it. AWS figures are the published ones
 * (t3 in us-east-1; the multipliers are the published t3.medium and gp3 prices of each region
 * divided by us-east-1's). GCP and Azure figures are the published base-region prices with rounded
 * relativities for the other regions: good for an estimate, to be rechecked before relying on them.
 */
export const PRICE_DATE = '2026-11-01';
/** Hours in the average month, as the clouds' own calculators count them. */
export const HOURS_PER_MONTH = 730;
/** Root disk the providers create: Ubuntu plus Docker plus the Crawl4AI image (about 4 GB) and logs. */
export const DEFAULT_DISK_GIB = 30;

export interface SizeSpec {
  instanceType: string;
  vcpus: number;
  memoryGiB: number;
  /** on-demand USD per hour in the provider's base region */
  hourlyUsd: number;
  /**
   * Burstable types whose bursts can be billed (AWS T3): the share of each vCPU the instance may
   * use all the time on the credits it earns (AWS's published "baseline performance / vCPU").
   */
  baselinePerVcpu?: number;
}

export interface RegionPricing {
  /** compute price relative to the base region */
  compute: number;
  /** disk price relative to the base region */
  storage: number;
  /**
   * a rounded relativity, not the published price of each size in this region: good for an
   * estimate (within a few %), and `plan` says so. Absent: the published prices.
   */
  approximate?: true;
}

export interface ProviderPricing {
  baseRegion: string;
  source: string;
  /** where the figures were read (the cloud's own price pages) */
  sourceUrls: string[];
  /** the date they were read, YYYY-MM-DD */
  priceDate: string;
  disk: { kind: string; usdPerGiBMonth: number };
  /**
   * One public IPv4 address, per hour. `inUse`: attached to a running VM. `reserved`: a static
   * address kept while the VM is stopped (what `stop` leaves behind in public mode).
   */
  ipv4: { inUse: number; reserved: number; detail: string };
  /** provider-specific costs the estimate leaves out (added to the common ones) */
  excludes: string[];
}

export const SIZES: Readonly<Record<ProviderName, Readonly<Record<SizeName, SizeSpec>>>> = {
  aws: {
    small: { instanceType: 't3.medium', vcpus: 2, memoryGiB: 4, hourlyUsd: 0.0416, baselinePerVcpu: 0.2 },
    medium: { instanceType: 't3.large', vcpus: 2, memoryGiB: 8, hourlyUsd: 0.0832, baselinePerVcpu: 0.3 },
    large: { instanceType: 't3.xlarge', vcpus: 4, memoryGiB: 16, hourlyUsd: 0.1664, baselinePerVcpu: 0.4 },
  },
  gcp: {
    small: { instanceType: 'e2-medium', vcpus: 2, memoryGiB: 4, hourlyUsd: 0.033503 },
    medium: { instanceType: 'e2-standard-2', vcpus: 2, memoryGiB: 8, hourlyUsd: 0.067006 },
    large: { instanceType: 'e2-standard-4', vcpus: 4, memoryGiB: 16, hourlyUsd: 0.134012 },
  },
  // Cloudflare Containers (src/pricing/containers.ts): USD per running hour of vCPU + memory + disk
  cloudflare: {
    small: { instanceType: 'standard-1', vcpus: 0.5, memoryGiB: 4, hourlyUsd: 0.07402 },
    medium: { instanceType: 'standard-2', vcpus: 1, memoryGiB: 6, hourlyUsd: 0.12902 },
    large: { instanceType: 'standard-4', vcpus: 4, memoryGiB: 12, hourlyUsd: 0.40104 },
  },
  azure: {
    small: { instanceType: 'Standard_B2s', vcpus: 2, memoryGiB: 4, hourlyUsd: 0.0416 },
    medium: { instanceType: 'Standard_B2ms', vcpus: 2, memoryGiB: 8, hourlyUsd: 0.0832 },
    large: { instanceType: 'Standard_B4ms', vcpus: 4, memoryGiB: 16, hourlyUsd: 0.166 },
  },
};

/** Known regions per provider, in the order the wizard offers them (the first is the default). */
export const REGIONS: Readonly<Record<ProviderName, Readonly<Record<string, RegionPricing>>>> = {
  aws: {
    'us-east-1': { compute: 1, storage: 1 },
    'us-east-2': { compute: 1, storage: 1 },
    'us-west-2': { compute: 1, storage: 1 },
    'eu-west-1': { compute: 0.0456 / 0.0416, storage: 0.088 / 0.08 },
    'eu-central-1': { compute: 0.048 / 0.0416, storage: 0.0952 / 0.08 },
    'ap-southeast-1': { compute: 0.0528 / 0.0416, storage: 0.096 / 0.08 },
    'ap-northeast-1': { compute: 0.0544 / 0.0416, storage: 0.096 / 0.08 },
  },
  gcp: {
    'us-central1': { compute: 1, storage: 1 },
    'us-east1': { compute: 1, storage: 1 },
    'us-west1': { compute: 1, storage: 1 },
    'europe-west1': { compute: 1.1, storage: 1.1, approximate: true },
    'europe-west4': { compute: 1.1, storage: 1.1, approximate: true },
    'asia-southeast1': { compute: 1.23, storage: 1.1, approximate: true },
    'asia-northeast1': { compute: 1.29, storage: 1.3, approximate: true },
  },
  // Cloudflare places container instances itself, near the requests: one price everywhere
  cloudflare: { global: { compute: 1, storage: 1 } },
  azure: {
    eastus: { compute: 1, storage: 1 },
    eastus2: { compute: 1, storage: 1 },
    westus2: { compute: 1, storage: 1 },
    northeurope: { compute: 1.08, storage: 1.05, approximate: true },
    westeurope: { compute: 1.15, storage: 1.1, approximate: true },
    southeastasia: { compute: 1.27, storage: 1.2, approximate: true },
    japaneast: { compute: 1.3, storage: 1.25, approximate: true },
  },
};

export const PRICING: Readonly<Record<ProviderName, ProviderPricing>> = {
  aws: {
    baseRegion: 'us-east-1',
    source: 'AWS EC2 and EBS on-demand pricing, Linux, us-east-1',
    sourceUrls: ['https://aws.amazon.com/ec2/pricing/on-demand/', 'https://aws.amazon.com/ebs/pricing/', 'https://aws.amazon.com/vpc/pricing/'],
    priceDate: PRICE_DATE,
    disk: { kind: 'gp3', usdPerGiBMonth: 0.08 },
    // Since February 2024 every public IPv4 address costs the same, in use or idle.
    ipv4: { inUse: 0.005, reserved: 0.005, detail: 'public IPv4, charged in use or idle since Feb 2024' },
    excludes: [],
  },
  gcp: {
    baseRegion: 'us-central1',
    source: 'Google Compute Engine on-demand pricing, us-central1 (approximate for other regions)',
    sourceUrls: ['https://cloud.google.com/compute/vm-instance-pricing', 'https://cloud.google.com/compute/disks-image-pricing', 'https://cloud.google.com/vpc/network-pricing'],
    priceDate: PRICE_DATE,
    disk: { kind: 'pd-balanced', usdPerGiBMonth: 0.1 },
    ipv4: { inUse: 0.005, reserved: 0.01, detail: 'external IPv4; a static address on a stopped VM costs $0.01/h' },
    excludes: [],
  },
  cloudflare: {
    baseRegion: 'global',
    source: 'Cloudflare Containers per-second pricing (src/pricing/containers.ts)',
    sourceUrls: ['https://developers.cloudflare.com/containers/pricing/'],
    priceDate: '2026-12-07', // CONTAINER_PRICE_DATE of containers.ts (which imports this file)
    // disk is billed per second while running, inside hourlyUsd; nothing while asleep
    disk: { kind: 'container disk (billed while running)', usdPerGiBMonth: 0 },
    ipv4: { inUse: 0, reserved: 0, detail: 'no public address' },
    excludes: ['the Workers Paid plan ($5/month) that Containers require'],
  },
  azure: {
    baseRegion: 'eastus',
    source: 'Azure pay-as-you-go pricing, Linux, East US (approximate for other regions)',
    sourceUrls: ['https://azure.microsoft.com/pricing/details/virtual-machines/linux/', 'https://azure.microsoft.com/pricing/details/managed-disks/', 'https://azure.microsoft.com/pricing/details/ip-addresses/'],
    priceDate: PRICE_DATE,
    // Azure bills managed disks by tier (a 30 GiB disk is an E4 of 32 GiB, about $2.40): per GiB here.
    disk: { kind: 'Standard SSD (E-tier, per-GiB approximation)', usdPerGiBMonth: 0.075 },
    ipv4: { inUse: 0.005, reserved: 0.005, detail: 'Standard static public IPv4, charged while allocated' },
    excludes: [],
  },
};

/**
 * AWS T3 unlimited mode: CPU above the baseline, once the earned credits are spent, is billed as
 * surplus credits at a flat price per vCPU-hour (Linux; the same in every offered region). Source:
 * AWS "Burstable performance instances: unlimited mode pricing" and the EC2 on-demand pricing page,
 * as of PRICE_DATE. GCP e2 and Azure B-series bursts are never billed extra, so they have none.
 */
export const T3_SURPLUS_CREDIT_USD_PER_VCPU_HOUR = 0.05;

export const DEFAULT_REGION: Readonly<Record<ProviderName, string>> = {
  aws: PRICING.aws.baseRegion,
  gcp: PRICING.gcp.baseRegion,
  azure: PRICING.azure.baseRegion,
  cloudflare: PRICING.cloudflare.baseRegion,
};

export const SIZE_NAMES: readonly SizeName[] = ['small', 'medium', 'large'];

function providerOf(provider: string): ProviderName {
  if (provider === 'aws' || provider === 'gcp' || provider === 'azure' || provider === 'cloudflare') return provider;
  throw usageError(`unknown provider "${provider}"`, 'use one of: aws, gcp, azure, cloudflare');
}

/** The machine type behind a size; an unknown size lists the valid ones (exit code 2). */
export function sizeSpec(provider: ProviderName, size: string): SizeSpec {
  const table = SIZES[providerOf(provider)];
  if (!Object.hasOwn(table, size)) {
    throw usageError(`unknown size "${size}"`, `use one of: ${describeSizes(provider)}`);
  }
  return table[size as SizeName];
}

/** A region's price relativities; an unknown region lists the known ones (exit code 2). */
export function regionPricing(provider: ProviderName, region: string): RegionPricing {
  const table = REGIONS[providerOf(provider)];
  if (!Object.hasOwn(table, region)) {
    throw usageError(
      `no prices for ${provider} region "${region}"`,
      `known regions: ${Object.keys(table).join(', ')}`,
    );
  }
  return table[region]!;
}

/** "small = t3.medium (2 vCPU, 4 GiB), medium = ..." for --help and error hints. */
export function describeSizes(provider: ProviderName): string {
  const table = SIZES[providerOf(provider)];
  return SIZE_NAMES.map((s) => `${s} = ${table[s].instanceType} (${table[s].vcpus} vCPU, ${table[s].memoryGiB} GiB)`).join(', ');
}

/** size -> machine type, the shape of Provider.sizes. */
/** The other sizes, suggested when one has no capacity (the same on every cloud). */
export const otherSizes = (size: SizeName): SizeName[] => SIZE_NAMES.filter((s) => s !== size);

export function instanceTypes(provider: ProviderName): Record<SizeName, string> {
  const table = SIZES[providerOf(provider)];
  return { small: table.small.instanceType, medium: table.medium.instanceType, large: table.large.instanceType };
}

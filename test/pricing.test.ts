import { describe, expect, it } from 'vitest';
import { CliError, ExitCode } from '../src/ground/errors.js';
import {
  DEFAULT_DISK_GIB,
  DEFAULT_REGION,
  HOURS_PER_MONTH,
  PRICE_DATE,
  PRICING,
  REGIONS,
  SIZES,
  SIZE_NAMES,
  describeSizes,
  instanceTypes,
  regionPricing,
  sizeSpec,
} from '../src/pricing/catalog.js';
import { costSoFar, estimateMonthly } from '../src/pricing/estimate.js';
import type { ProviderName } from '../src/model/deployment.js';

const PROVIDERS: ProviderName[] = ['aws', 'gcp', 'azure'];

function thrown(fn: () => unknown): CliError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('catalog', () => {
  it('is dated and maps AWS sizes to t3 types with their us-east-1 prices', () => {
    expect(PRICE_DATE).toBe('2026-11-01');
    expect(SIZES.aws).toEqual({
      small: { instanceType: 't3.medium', vcpus: 2, memoryGiB: 4, hourlyUsd: 0.0416, baselinePerVcpu: 0.2 },
      medium: { instanceType: 't3.large', vcpus: 2, memoryGiB: 8, hourlyUsd: 0.0832, baselinePerVcpu: 0.3 },
      large: { instanceType: 't3.xlarge', vcpus: 4, memoryGiB: 16, hourlyUsd: 0.1664, baselinePerVcpu: 0.4 },
    });
    expect(instanceTypes('gcp')).toEqual({ small: 'e2-medium', medium: 'e2-standard-2', large: 'e2-standard-4' });
    expect(instanceTypes('azure')).toEqual({ small: 'Standard_B2s', medium: 'Standard_B2ms', large: 'Standard_B4ms' });
    expect(describeSizes('aws')).toBe('small = t3.medium (2 vCPU, 4 GiB), medium = t3.large (2 vCPU, 8 GiB), large = t3.xlarge (4 vCPU, 16 GiB)');
  });

  it.each(PROVIDERS)('%s: every size has >= 4 GiB, sizes grow, the default region is first and priced at 1x', (p) => {
    const specs = SIZE_NAMES.map((s) => SIZES[p][s]);
    for (const s of specs) expect(s.memoryGiB).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < specs.length; i++) {
      expect(specs[i]!.memoryGiB).toBeGreaterThan(specs[i - 1]!.memoryGiB);
      expect(specs[i]!.hourlyUsd).toBeGreaterThan(specs[i - 1]!.hourlyUsd);
    }
    expect(Object.keys(REGIONS[p])[0]).toBe(DEFAULT_REGION[p]);
    expect(regionPricing(p, PRICING[p].baseRegion)).toEqual({ compute: 1, storage: 1 });
    expect(Object.keys(REGIONS[p]).length).toBeGreaterThanOrEqual(7);
    for (const r of Object.values(REGIONS[p])) {
      expect(r.compute).toBeGreaterThanOrEqual(1);
      expect(r.compute).toBeLessThan(1.5);
    }
  });

  it('AWS region multipliers reproduce the published t3.medium and gp3 prices', () => {
    const published: Record<string, [number, number]> = {
      'us-east-1': [0.0416, 0.08],
      'us-east-2': [0.0416, 0.08],
      'us-west-2': [0.0416, 0.08],
      'eu-west-1': [0.0456, 0.088],
      'eu-central-1': [0.048, 0.0952],
      'ap-southeast-1': [0.0528, 0.096],
      'ap-northeast-1': [0.0544, 0.096],
    };
    expect(Object.keys(REGIONS.aws).sort()).toEqual(Object.keys(published).sort());
    for (const [region, [hourly, gp3]] of Object.entries(published)) {
      expect(SIZES.aws.small.hourlyUsd * regionPricing('aws', region).compute).toBeCloseTo(hourly, 6);
      expect(PRICING.aws.disk.usdPerGiBMonth * regionPricing('aws', region).storage).toBeCloseTo(gp3, 6);
    }
    expect(PRICING.aws.ipv4).toMatchObject({ inUse: 0.005, reserved: 0.005 });
  });

  it('an unknown region, size or provider is a usage error listing the valid ones', () => {
    const region = thrown(() => regionPricing('aws', 'mars-north-1'));
    expect(region.exitCode).toBe(ExitCode.usage);
    expect(region.message).toContain('mars-north-1');
    expect(region.hint).toContain('us-east-1, us-east-2, us-west-2, eu-west-1');
    const size = thrown(() => sizeSpec('aws', 'huge'));
    expect(size.exitCode).toBe(ExitCode.usage);
    expect(size.hint).toContain('small = t3.medium');
    expect(thrown(() => sizeSpec('aws', 'constructor')).exitCode).toBe(ExitCode.usage);
    expect(thrown(() => regionPricing('oracle' as ProviderName, 'x')).exitCode).toBe(ExitCode.usage);
  });
});

describe('estimateMonthly', () => {
  it('prices an AWS medium deployment in us-east-1: compute, disk, public IPv4', () => {
    const cost = estimateMonthly({ provider: 'aws', region: 'us-east-1', size: 'medium', diskGiB: 30, publicIpv4: true });
    expect(cost.lines.map((l) => [l.item, l.monthlyUsd])).toEqual([
      ['compute', 60.74], // 0.0832 x 730
      ['disk', 2.4], // 30 x 0.08
      ['public IPv4', 3.65], // 0.005 x 730
    ]);
    expect(cost.monthlyUsd).toBe(66.79);
    expect(cost.stoppedMonthlyUsd).toBe(6.05); // disk + the static address
    expect(cost.priceDate).toBe(PRICE_DATE);
    expect(cost.lines[0]!.detail).toContain('t3.large');
    expect(cost.lines[1]!.detail).toContain('30 GiB gp3');
    expect(cost.excludes).toEqual(expect.arrayContaining([
      expect.stringMatching(/data transfer out/),
      expect.stringMatching(/Cloudflare Workers usage beyond the free tier/),
      'taxes',
    ]));
    // standard mode (the default) bills no surplus credits, so there is nothing to exclude for them
    expect(cost.excludes.join(' ')).not.toMatch(/credit/i);
    expect(cost.cpuCredits).toMatchObject({ mode: 'standard', baselinePerVcpu: 0.3 });
  });

  it('applies region multipliers and sums rounded lines', () => {
    const cost = estimateMonthly({ provider: 'aws', region: 'eu-west-1', size: 'small', diskGiB: DEFAULT_DISK_GIB, publicIpv4: true });
    expect(cost.lines.map((l) => l.monthlyUsd)).toEqual([33.29, 2.64, 3.65]); // 0.0456 x 730, 30 x 0.088
    expect(cost.monthlyUsd).toBe(39.58);
    for (const p of PROVIDERS) {
      for (const region of Object.keys(REGIONS[p])) {
        for (const size of SIZE_NAMES) {
          const c = estimateMonthly({ provider: p, region, size, diskGiB: 30, publicIpv4: true });
          expect(c.monthlyUsd).toBeCloseTo(c.lines.reduce((s, l) => s + l.monthlyUsd, 0), 9);
          expect(c.monthlyUsd).toBeGreaterThan(c.stoppedMonthlyUsd);
        }
      }
    }
  });

  it('leaves the address out when there is none, and out of the stopped cost when it is ephemeral', () => {
    const none = estimateMonthly({ provider: 'aws', region: 'us-east-1', size: 'small', diskGiB: 30, publicIpv4: false });
    expect(none.lines.map((l) => l.item)).toEqual(['compute', 'disk']);
    expect(none.stoppedMonthlyUsd).toBe(2.4);
    const ephemeral = estimateMonthly({ provider: 'aws', region: 'us-east-1', size: 'small', diskGiB: 30, publicIpv4: true, staticIpv4: false });
    expect(ephemeral.monthlyUsd).toBe(36.42); // 30.37 + 2.40 + 3.65
    expect(ephemeral.stoppedMonthlyUsd).toBe(2.4);
    expect(ephemeral.lines[2]!.detail).toContain('released while stopped');
  });

  it('prices GCP and Azure from their base regions; GCP bills a kept static address at $0.01/h', () => {
    const gcp = estimateMonthly({ provider: 'gcp', region: 'us-central1', size: 'small', diskGiB: 30, publicIpv4: true });
    expect(gcp.lines.map((l) => l.monthlyUsd)).toEqual([24.46, 3, 3.65]); // 0.033503 x 730
    expect(gcp.stoppedMonthlyUsd).toBe(10.3); // 3.00 + 0.01 x 730
    const azure = estimateMonthly({ provider: 'azure', region: 'eastus', size: 'large', diskGiB: 30, publicIpv4: true });
    expect(azure.lines.map((l) => l.monthlyUsd)).toEqual([121.18, 2.25, 3.65]); // 0.166 x 730
  });

  it('rejects an unknown region with exit code 2 and the known regions', () => {
    const e = thrown(() => estimateMonthly({ provider: 'gcp', region: 'us-east-1', size: 'small', diskGiB: 30, publicIpv4: true }));
    expect(e.exitCode).toBe(2);
    expect(e.hint).toContain('us-central1');
    expect(thrown(() => estimateMonthly({ provider: 'aws', region: 'us-east-1', size: 'small', diskGiB: 0, publicIpv4: true })).exitCode).toBe(2);
  });
});

describe('costSoFar', () => {
  it('charges compute for running hours, disk for all hours, the static address throughout', () => {
    const base = { provider: 'aws', region: 'us-east-1', size: 'small', diskGiB: 30, publicIpv4: true } as const;
    const c = costSoFar({ ...base, runningHours: 100, totalHours: 146 });
    expect(c.lines.map((l) => l.item)).toEqual(['compute', 'disk', 'public IPv4']);
    expect(c.lines[0]!.usd).toBeCloseTo(4.16, 9); // 100 h x 0.0416
    expect(c.lines[1]!.usd).toBeCloseTo(0.48, 9); // 2.40/month x 146/730
    expect(c.lines[2]!.usd).toBeCloseTo(0.73, 9); // 146 h x 0.005
    expect(c.soFarUsd).toBeCloseTo(5.37, 9);
    expect(c.monthlyUsd).toBe(estimateMonthly(base).monthlyUsd);
    // a whole month running equals the monthly estimate (up to the per-line rounding)
    expect(costSoFar({ ...base, runningHours: HOURS_PER_MONTH, totalHours: HOURS_PER_MONTH }).soFarUsd).toBeCloseTo(estimateMonthly(base).monthlyUsd, 1);
    // an ephemeral address costs nothing while stopped; GCP's static one costs more then
    expect(costSoFar({ ...base, staticIpv4: false, runningHours: 0, totalHours: 10 }).lines[2]!.usd).toBe(0);
    expect(costSoFar({ ...base, provider: 'gcp', region: 'us-central1', runningHours: 0, totalHours: 10 }).lines[2]!.usd).toBeCloseTo(0.1, 9);
    expect(() => costSoFar({ ...base, runningHours: -1, totalHours: 1 })).toThrow();
  });
});

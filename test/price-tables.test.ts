// The price tables (src/pricing): every size the CLI offers, in every region it offers, on every
// cloud, has a price; each table names where its figures come from and when they were read; and
// `plan` says what its estimate includes, excludes, and where it is approximate.
import { describe, expect, it } from 'vitest';
import { PRICE_DATE, PRICING, REGIONS, SIZES, SIZE_NAMES } from '../src/pricing/catalog.js';
import { CONTAINER_PRICE_DATE } from '../src/pricing/containers.js';
import { estimateMonthly, hourlyRate } from '../src/pricing/estimate.js';
import type { ProviderName } from '../src/model/deployment.js';
import { runCli } from './helpers/cli.js';
import { gcpJourneyEnv } from './helpers/journey.js';
import { startGceEmulator } from './emulators/gce/index.ts';
import { startCloudflareEmulator } from './emulators/cloudflare/index.ts';

const CF_TOKEN = 'cf-token-' + 't'.repeat(32);

const CLOUDS: ProviderName[] = ['aws', 'gcp', 'azure'];

describe('price tables', () => {
  it.each(CLOUDS)('%s: every offered size x offered region has a positive monthly price, running and stopped', (p) => {
    const regions = Object.keys(REGIONS[p]);
    expect(regions.length).toBeGreaterThan(0);
    for (const region of regions) {
      for (const size of SIZE_NAMES) {
        const where = `${p} ${region} ${size}`;
        expect(SIZES[p][size]?.hourlyUsd, where).toBeGreaterThan(0);
        const est = estimateMonthly({ provider: p, region, size, diskGiB: 30, publicIpv4: true });
        expect(Number.isFinite(est.monthlyUsd) && est.monthlyUsd > 0, where).toBe(true);
        expect(est.stoppedMonthlyUsd, where).toBeGreaterThan(0); // the disk is billed while stopped
        expect(est.stoppedMonthlyUsd, where).toBeLessThan(est.monthlyUsd);
        expect(hourlyRate({ provider: p, region, size, diskGiB: 30, publicIpv4: true }, true), where).toBeGreaterThan(0);
      }
    }
  });

  it.each([...CLOUDS, 'cloudflare' as const])('%s: the table names its source pages (https) and the date they were read', (p) => {
    const t = PRICING[p];
    expect(t.sourceUrls.length).toBeGreaterThan(0);
    for (const u of t.sourceUrls) expect(new URL(u).protocol).toBe('https:');
    expect(t.priceDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(t.priceDate).toBe(p === 'cloudflare' ? CONTAINER_PRICE_DATE : PRICE_DATE);
  });

  it('regions priced by a rounded relativity are marked approximate, and the estimate says so', () => {
    const est = estimateMonthly({ provider: 'gcp', region: 'europe-west1', size: 'medium', diskGiB: 30, publicIpv4: true });
    expect(est.approximate).toContain('europe-west1 is priced as us-central1');
    expect(estimateMonthly({ provider: 'gcp', region: 'us-central1', size: 'medium', diskGiB: 30, publicIpv4: true }).approximate).toBeUndefined();
    // AWS regions are the published prices of each region
    for (const region of Object.keys(REGIONS.aws)) expect(REGIONS.aws[region]!.approximate, region).toBeUndefined();
  });
});

describe('plan shows what the estimate includes and excludes, and its sources', () => {
  it('the built CLI, GCP in a region priced by relativity (Compute and Cloudflare emulators)', async () => {
    const gce = await startGceEmulator({ transitionMs: 50 });
    const cf = await startCloudflareEmulator({ apiToken: CF_TOKEN });
    try {
      const env = gcpJourneyEnv(gce, cf, CF_TOKEN, 'c4m-price-tables-');
      const r = await runCli(['--name', 'priced', 'plan', '--yes', '--provider', 'gcp', '--region', 'europe-west1', '--size', 'medium', '--network', 'public'], { env, timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      const text = r.stdout;
      expect(text).toMatch(/includes: compute, disk, public IPv4, for the VM running all 730 hours of a month/);
      expect(text).toMatch(/excludes: data transfer out of the cloud \(egress\); Cloudflare Workers usage beyond the free tier; taxes/);
      expect(text).toContain(`prices:   https://cloud.google.com/compute/vm-instance-pricing https://cloud.google.com/compute/disks-image-pricing https://cloud.google.com/vpc/network-pricing (read ${PRICE_DATE})`);
      expect(text).toContain("note:     europe-west1 is priced as us-central1's published prices times a rounded regional relativity");
      const json = JSON.parse((await runCli(['--name', 'priced', 'plan', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'medium', '--network', 'public', '--json'], { env, timeoutMs: 120_000 })).stdout);
      expect(json.cost.sources).toEqual(PRICING.gcp.sourceUrls);
      expect(json.cost.approximate).toBeUndefined();
    } finally {
      await cf.close();
      await gce.close();
    }
  }, 180_000);
});

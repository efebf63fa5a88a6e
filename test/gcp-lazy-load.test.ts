// Nothing of the GCP SDK loads for --help or for AWS, and GCP loads only the Compute client files
// it uses (never the package index, which loads every client): checked on the built CLI by
// tracing every module the process resolves.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEc2Emulator } from './emulators/ec2/index.ts';
import { startGceEmulator } from './emulators/gce/index.ts';
import { cliEnv, runCli, tempHome } from './helpers/cli.js';
import { AWS_ACCESS_KEY, AWS_SECRET_KEY } from './helpers/journey.js';

const HOOK = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'trace-modules.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-lazy-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function modulesLoadedBy(args: string[], extra: Record<string, string>): Promise<{ code: number | null; stderr: string; modules: string[] }> {
  const trace = path.join(dir, `trace-${++n}.txt`);
  const env = cliEnv(tempHome('c4m-lazy-'), {
    CRAWL4AI_MCP_SECRET_BACKEND: 'file',
    CRAWL4AI_MCP_PASSPHRASE: 'lazy passphrase',
    C4M_TRACE_MODULES: trace,
    NODE_OPTIONS: `--import ${HOOK}`,
    ...extra,
  });
  const r = await runCli(args, { env, timeoutMs: 120_000 });
  const modules = fs.existsSync(trace) ? [...new Set(fs.readFileSync(trace, 'utf8').trim().split('\n'))] : [];
  return { code: r.code, stderr: r.stderr, modules };
}
const google = (mods: string[]) => mods.filter((m) => /node_modules\/(@google-cloud|google-gax|google-auth-library)\//.test(m));

describe('the GCP SDK is loaded lazily and only in part', () => {
  it('--help loads nothing of it', async () => {
    const r = await modulesLoadedBy(['--help'], {});
    expect(r.code).toBe(0);
    expect(r.modules.length).toBeGreaterThan(0); // the trace works
    expect(google(r.modules)).toEqual([]);
  });

  it('plan on AWS loads nothing of it', async () => {
    const ec2 = await startEc2Emulator({ accessKeyId: AWS_ACCESS_KEY });
    try {
      const r = await modulesLoadedBy(['plan', '--yes', '--provider', 'aws', '--region', 'us-east-1', '--size', 'small'], {
        AWS_ENDPOINT_URL_EC2: ec2.url,
        AWS_ENDPOINT_URL_IAM: ec2.url,
        AWS_ENDPOINT_URL_STS: ec2.url,
        AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: AWS_SECRET_KEY,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.modules.some((m) => m.includes('@aws-sdk/client-ec2'))).toBe(true);
      expect(google(r.modules)).toEqual([]);
    } finally {
      await ec2.close();
    }
  });

  it('plan on GCP loads only the Compute client files it uses, not the package index', async () => {
    const gce = await startGceEmulator();
    try {
      const r = await modulesLoadedBy(['plan', '--yes', '--provider', 'gcp', '--region', 'us-central1', '--size', 'small'], {
        CRAWL4AI_MCP_GCP_ENDPOINT: gce.url,
        NODE_EXTRA_CA_CERTS: gce.caFile,
        CRAWL4AI_MCP_GCP_KEY: gce.serviceAccountKey,
      });
      expect(r.code, r.stderr).toBe(0);
      const compute = r.modules.filter((m) => m.includes('node_modules/@google-cloud/compute/')).map((m) => m.replace(/^.*node_modules\/@google-cloud\/compute\//, ''));
      expect(compute.filter((m) => m.endsWith('_client.js')).sort()).toEqual(
        ['addresses', 'firewalls', 'global_operations', 'images', 'instances', 'networks', 'region_operations', 'regions', 'zone_operations'].map((c) => `build/src/v1/${c}_client.js`),
      );
      expect(compute).not.toContain('build/src/index.js');
      expect(compute.filter((m) => /build\/src\/v1\/index\.js$/.test(m))).toEqual([]);
      expect(r.modules.some((m) => m.includes('@aws-sdk/'))).toBe(false);
    } finally {
      await gce.close();
    }
  });
});

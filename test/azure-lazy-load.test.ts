// The Azure SDK loads only when Azure is used: not for --help, not for AWS. Runs the built CLI
// and the built conductor in child processes with a module-resolution hook counting @azure/*.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT } from './helpers/cli.js';

const HOOK = path.join(ROOT, 'test', 'fixtures', 'count-azure-loads.mjs');
const LOAD = path.join(ROOT, 'test', 'fixtures', 'load-provider.mjs');

function azureModulesLoadedBy(args: string[]): { count: number; stdout: string } {
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-loads-')), 'report.json');
  const r = spawnSync(process.execPath, ['--import', HOOK, ...args], { env: { ...process.env, C4M_LOAD_REPORT: report, NO_COLOR: '1' }, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return { count: (JSON.parse(fs.readFileSync(report, 'utf8')) as { azureModules: number }).azureModules, stdout: r.stdout };
}

describe('the Azure SDK is loaded lazily', () => {
  it('--help and init --help load none of it', () => {
    expect(azureModulesLoadedBy([CLI, '--help']).count).toBe(0);
    expect(azureModulesLoadedBy([CLI, 'init', '--help']).count).toBe(0);
  });

  it('loading the AWS provider loads none of it, nor does loading the Azure provider; making Azure clients does', () => {
    expect(azureModulesLoadedBy([LOAD, 'aws']).count).toBe(0);
    // the SDK is imported when a command needs clients (and may be installed then: ground/cloud-sdk.ts)
    expect(azureModulesLoadedBy([LOAD, 'aws', 'azure']).count).toBe(0);
    const { count, stdout } = azureModulesLoadedBy([LOAD, 'aws', 'azure:clients']);
    expect(count).toBeGreaterThan(0);
    // e.g. [{"name":"aws","ms":180,"rssMiB":20},{"name":"azure","ms":450,"rssMiB":40}]: printed for the record
    console.log(`provider load cost: ${stdout}`);
  });
});

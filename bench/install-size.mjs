#!/usr/bin/env node
/**
 * Benchmark (not a test): what `npm install crawl4ai-mcp` puts on disk, and what each cloud's
 * on-demand SDK adds.
 *
 *   npm run build && node bench/install-size.mjs
 *
 * Packs the working tree, installs the tarball into an empty project offline from npm's cache
 * (test/helpers/tarball.mjs, as test/tarball-install.test.ts does), then installs each cloud's
 * pinned SDK (cloud-sdks/<cloud>/) the way the CLI does on first use. Sizes are du's (blocks).
 */
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { machineLine, ROOT } from './lib.mjs';
import { diskBytes, installTarball, packTarball } from '../test/helpers/tarball.mjs';

const MiB = 2 ** 20;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'c4m-bench-size-'));
const env = { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_offline: 'true', npm_config_update_notifier: 'false' };
try {
  const tgz = await packTarball(work);
  const project = path.join(work, 'project');
  fs.mkdirSync(project);
  const { ms } = await installTarball(tgz, project, env);
  const nm = path.join(project, 'node_modules');
  const top = fs
    .readdirSync(nm)
    .flatMap((n) => (n.startsWith('@') ? fs.readdirSync(path.join(nm, n)).map((m) => `${n}/${m}`) : [n]))
    .filter((n) => !n.startsWith('.'))
    .map((n) => [n, diskBytes(path.join(nm, n))])
    .sort((a, b) => b[1] - a[1]);
  // workerd's binary is hard-linked into two packages: count it once, for the first listed
  const seen = new Set();
  for (const row of top) row[1] = diskBytes(path.join(nm, row[0]), seen);
  console.log(`\ntarball ${(fs.statSync(tgz).size / 1024).toFixed(0)} KiB; npm ci of it (offline, from cache): ${(ms / 1000).toFixed(1)} s\n`);
  console.log('| what | MiB on disk |');
  console.log('|---|---:|');
  console.log(`| node_modules of a project with only crawl4ai-mcp | **${(diskBytes(nm) / MiB).toFixed(0)}** |`);
  for (const [n, b] of top.slice(0, 6)) console.log(`| … ${n} | ${(b / MiB).toFixed(0)} |`);
  for (const cloud of ['gcp', 'azure']) {
    const dir = path.join(work, `sdk-${cloud}`);
    fs.mkdirSync(dir);
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, 'cloud-sdks', cloud, f), path.join(dir, f));
    const t = performance.now();
    await execa('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env });
    console.log(`| ${cloud} SDK, installed on first use (npm ci ${((performance.now() - t) / 1000).toFixed(1)} s from cache) | ${(diskBytes(dir) / MiB).toFixed(0)} |`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(`\n${machineLine()}`);

// Installs the packed tarball the way a user's `npm install crawl4ai-mcp` would, but offline:
// npm's cache (filled by `npm ci`) holds every tarball and no registry documents, so the install
// is an `npm ci --offline` of a lockfile made from this repo's own (its non-dev entries sit at the
// same node_modules/ paths in a project that depends on crawl4ai-mcp), which also makes npm check
// each integrity hash as a registry install does. Plain JS: bench/install-size.mjs uses it too.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `npm pack` of the working tree (dist/ as built) into `dir`; returns the tarball's path. */
export async function packTarball(dir) {
  const r = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
  const [{ filename }] = JSON.parse(r.stdout);
  return path.join(dir, filename);
}

/** A project in `dir` that depends on the tarball, installed with `npm ci --offline`. */
export async function installTarball(tgz, dir, env) {
  const own = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const spec = `file:${tgz}`;
  const packages = { '': { name: 'consumer', dependencies: { [own.name]: spec } } };
  packages[`node_modules/${own.name}`] = {
    version: own.version,
    resolved: spec,
    integrity: `sha512-${createHash('sha512').update(fs.readFileSync(tgz)).digest('base64')}`,
    license: own.license,
    dependencies: own.dependencies,
    optionalDependencies: own.optionalDependencies,
    bin: own.bin,
    engines: own.engines,
  };
  for (const [k, v] of Object.entries(lock.packages)) {
    if (!k || v.dev || v.link || !k.startsWith('node_modules/')) continue;
    const { devOptional, ...entry } = v;
    // devOptional: optional for the app, dev for the tests; the app side is what a user gets
    packages[k] = devOptional ? { ...entry, optional: true } : entry;
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: { [own.name]: spec } }, null, 2));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }, null, 2));
  const t0 = Date.now();
  await execa('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env });
  return { ms: Date.now() - t0 };
}

/** Bytes on disk under `dir`, as `du` counts them (allocated blocks; hard links once, also across calls sharing `seen`). */
export function diskBytes(dir, seen = new Set()) {
  let total = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = fs.statSync(p);
        if (seen.has(st.ino)) continue;
        seen.add(st.ino);
        total += st.blocks * 512;
      }
    }
  };
  walk(dir);
  return total;
}

/**
 * What the benches share: argument parsing, percentiles, sequential timing with a warm-up, the
 * machine line, the emulated Crawl4AI + Worker pair, and a resolve hook that lets plain Node
 * import the emulators' TypeScript (their files import each other as `./x.js`).
 */
import { registerHooks } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// `./model.js` next to model.ts: resolve to the .ts (Node >= 23.6 strips the types itself).
registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (e) {
      if (e?.code === 'ERR_MODULE_NOT_FOUND' && specifier.startsWith('.') && specifier.endsWith('.js')) return next(`${specifier.slice(0, -3)}.ts`, context);
      throw e;
    }
  },
});

/** `--name 12` as a number, or the default */
export function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export const median = (xs) => stats(xs).p50;

/** `n` sequential calls of `fn` after `warmup` untimed ones: stats of the times in ms */
export async function timeSeq(fn, n, warmup = 50) {
  for (let i = 0; i < warmup; i++) await fn();
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return stats(out);
}

export function machineLine() {
  return `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

/** The Crawl4AI emulator and the Worker in workerd in front of it, as the tests start them. */
export async function startEmulatedWorker(opts = {}) {
  const { startCrawl4aiEmulator } = await import('../test/emulators/crawl4ai/index.ts');
  const { startWorker } = await import('../test/helpers/mcp-worker.ts');
  const emu = await startCrawl4aiEmulator({});
  const worker = await startWorker({ originUrl: emu.url, token: emu.token, ...opts });
  return { emu, worker };
}

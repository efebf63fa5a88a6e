#!/usr/bin/env node
// Launcher only: all logic lives in dist/ (built from src/ by `npm run build`). The CLI runs from
// dist/bundle/, esbuild's bundle of dist/cli/program.js: a few files instead of ~200 modules to
// resolve and link (zod alone is 95), which is most of a short command's start-up.
import module from 'node:module';
import path from 'node:path';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`error: crawl4ai-mcp needs Node.js 22.12 or newer (this is ${process.version})\nhint: install Node.js 24 LTS from https://nodejs.org\n`);
  process.exit(2);
}
// Node's on-disk bytecode cache: the second and later runs skip compiling the CLI and the cloud
// SDK (EC2's is one 2 MB file). It lives with the other re-downloadable files, is keyed by each
// file's content, and is skipped silently when the directory is not writable or
// NODE_DISABLE_COMPILE_CACHE is set.
try {
  const { cacheDir } = await import('../dist/ground/paths.js');
  module.enableCompileCache?.(path.join(cacheDir(process.env), 'compile-cache'));
} catch {
  // a cache, never a reason to fail
}
const { main } = await import('../dist/bundle/program.js');
process.exitCode = await main(process.argv.slice(2));

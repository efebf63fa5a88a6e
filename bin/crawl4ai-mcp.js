#!/usr/bin/env node
// Launcher only: all logic lives in dist/ (built from src/ by `npm run build`).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`error: crawl4ai-mcp needs Node.js 22.12 or newer (this is ${process.version})\nhint: install Node.js 24 LTS from https://nodejs.org\n`);
  process.exit(2);
}
const { main } = await import('../dist/cli/program.js');
process.exitCode = await main(process.argv.slice(2));

import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * wrangler is this package's own dependency (never a global install); it is run as
 * `node <its bin script>` so the same Node that runs us runs it.
 */
export function wranglerBin(): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve('wrangler/package.json');
  return path.join(path.dirname(pkgJson), 'bin', 'wrangler.js');
}

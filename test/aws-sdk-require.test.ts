// The AWS SDK is loaded with require() in one place (src/providers/aws/sdk.ts): an ESM import of
// its CommonJS bundles makes Node parse each twice (format detection, then the run), which cost
// `status` about 0.1 s of CPU. This keeps a new value import from bringing that back.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '..', 'src');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

describe('AWS SDK loading', () => {
  it('no module but src/providers/aws/sdk.ts imports a value from @aws-sdk/* (types are fine)', () => {
    const offenders: string[] = [];
    for (const file of tsFiles(SRC)) {
      if (file.endsWith(path.join('providers', 'aws', 'sdk.ts'))) continue;
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^import\s+(type\s+)?([^;]*?)\s+from\s+'(@aws-sdk\/[^']+)'/gms)) {
        if (!m[1]) offenders.push(`${path.relative(SRC, file)}: ${m[3]}`);
      }
      for (const m of text.matchAll(/import\(\s*'(@aws-sdk\/[^']+)'\s*\)/g)) offenders.push(`${path.relative(SRC, file)}: import('${m[1]}')`);
    }
    expect(offenders).toEqual([]);
  });
});

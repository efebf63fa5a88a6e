/**
 * Imports point one way (README "Layout"): ground <- model <- domains <- conductor <- cli/worker.
 * A new cloud, tool, command or endpoint that imports against the grain fails here, with the file,
 * the import and the rule it breaks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { edgeSummary, folderCycles, importEdges, layerViolations, LAYERS, nodeOf, type ImportEdge } from './helpers/import-graph.js';

const SRC = path.join(ROOT, 'src');
const edges = importEdges(SRC);

describe('the folder-level import graph of src/', () => {
  it('has no cycle', () => {
    expect(folderCycles(edges), edgeSummary(edges).join('\n')).toEqual([]);
  });

  it('has no import that points up or sideways a layer, and every folder has a layer', () => {
    expect(layerViolations(edges)).toEqual([]);
  });

  it('puts every folder of src/ in a layer (a new folder must be placed on purpose)', () => {
    const folders = new Set<string>();
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) folders.add(nodeOf(SRC, p));
      }
    };
    walk(SRC);
    const known = (n: string) => LAYERS.some((l) => l.includes(n.startsWith('providers/') ? 'providers/<cloud>' : n));
    expect([...folders].filter((f) => !known(f))).toEqual([]);
  });

  it('keeps the ground free of the rest of src/ (it imports nothing but itself)', () => {
    expect(edges.filter((e) => e.from === 'ground').map((e) => `${e.file}: ${e.specifier}`)).toEqual([]);
  });
});

describe('the layering check itself', () => {
  const edge = (from: string, to: string, file = `src/${from}/x.ts`): ImportEdge => ({ from, to, file, line: 3, specifier: `../${to}/y.js` });

  it('names an upward import with its file, line and specifier', () => {
    const [line] = layerViolations([edge('state', 'conductor')]);
    expect(line).toBe("src/state/x.ts:3 imports '../conductor/y.js' (state -> conductor): points UP a layer (state is layer 2, conductor is layer 5)");
  });

  it('refuses one cloud importing another, and the Worker importing Node-side code', () => {
    expect(layerViolations([edge('providers/gcp', 'providers/aws')])[0]).toMatch(/SIDEWAYS/);
    expect(layerViolations([edge('worker', 'state')])[0]).toMatch(/worker may import only mcp, ground, model/);
    expect(layerViolations([edge('providers/gcp', 'providers'), edge('worker', 'mcp')])).toEqual([]);
  });

  it('finds a cycle and flags a folder with no layer', () => {
    expect(folderCycles([edge('core', 'cli'), edge('cli', 'core')])).toEqual([['cli', 'core']]);
    expect(layerViolations([edge('utils2', 'ground')])[0]).toMatch(/folder "utils2" has no layer/);
  });

  it('reads multi-line, type-only and dynamic imports, and ignores commented ones', () => {
    const dir = fs.mkdtempSync(path.join(ROOT, 'test', '.tmp-graph-'));
    try {
      fs.mkdirSync(path.join(dir, 'src', 'a'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'src', 'b'), { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'src', 'a', 'x.ts'),
        [
          'import type {',
          '  T,',
          "} from '../b/t.js';",
          "const m = await import('../b/lazy.js');",
          "// import { gone } from '../b/old.js';",
          "/* import '../b/older.js'; */",
          "export { u } from '../b/u.js';",
        ].join('\n'),
      );
      const found = importEdges(path.join(dir, 'src')).map((e) => `${e.line} ${e.specifier}`);
      expect(found.sort()).toEqual(['3 ../b/t.js', '4 ../b/lazy.js', '7 ../b/u.js']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

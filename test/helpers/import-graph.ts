/**
 * The folder-level import graph of src/, and the layering rule checked against it (README
 * "Layout"). Plain TypeScript over the source text: every relative `import … from`, `export … from`,
 * `import '…'` and `import('…')` counts, type-only imports included (a type import still couples
 * two folders). Comments and string contents other than specifiers are ignored.
 */
import fs from 'node:fs';
import path from 'node:path';

/** One import of one file: the folder it is in, the folder it reaches, and where. */
export interface ImportEdge {
  from: string;
  to: string;
  file: string;
  line: number;
  specifier: string;
}

/**
 * The layers, bottom first. A folder may import only folders of a LOWER layer (never one beside
 * it, never one above). `providers/<cloud>` stands for each cloud's folder: a cloud may use the
 * shared `providers/` files, never another cloud's.
 */
export const LAYERS: ReadonlyArray<readonly string[]> = [
  ['ground'],
  ['model'],
  ['secrets', 'state', 'pricing', 'mcp', 'bootstrap'],
  ['cloudflare', 'providers'],
  ['providers/<cloud>'],
  ['conductor'],
  ['cli', 'worker'],
];

/** Narrower than the layers allow: the Worker bundle must stay free of Node-only code. */
export const ONLY: Readonly<Record<string, readonly string[]>> = {
  worker: ['mcp', 'ground', 'model'],
};

/** The node a file belongs to: its top folder under src/, or `providers/<cloud>` for a cloud's folder. */
export function nodeOf(srcDir: string, file: string): string {
  const parts = path.relative(srcDir, file).split(path.sep);
  if (parts.length === 1) return '.';
  if (parts[0] === 'providers' && parts.length > 2) return `providers/${parts[1]}`;
  return parts[0]!;
}

/** The layer index of a node (`providers/aws` is a `providers/<cloud>`); undefined when unassigned. */
export function layerOf(node: string): number | undefined {
  const key = node.startsWith('providers/') ? 'providers/<cloud>' : node;
  const i = LAYERS.findIndex((l) => l.includes(key));
  return i < 0 ? undefined : i;
}

function stripComments(src: string): string {
  // Block comments, then line comments not inside a string on that line (good enough for our code:
  // a `//` inside a quoted URL is kept because the quote before it is unbalanced).
  return src
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .split('\n')
    .map((line) => {
      const i = line.indexOf('//');
      if (i < 0) return line;
      const before = line.slice(0, i);
      const quotes = (before.match(/['"`]/g) ?? []).length;
      return quotes % 2 === 0 ? before : line;
    })
    .join('\n');
}

const SPECIFIER_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g;

/** Every relative import of every .ts file under srcDir that leaves its node. */
export function importEdges(srcDir: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const text = stripComments(fs.readFileSync(p, 'utf8'));
        for (const m of text.matchAll(SPECIFIER_RE)) {
          const specifier = m[2]!;
          const target = path.resolve(path.dirname(p), specifier);
          const from = nodeOf(srcDir, p);
          const to = nodeOf(srcDir, target);
          if (from === to) continue;
          const line = text.slice(0, m.index).split('\n').length;
          edges.push({ from, to, file: path.relative(path.dirname(srcDir), p), line, specifier });
        }
      }
    }
  };
  walk(srcDir);
  return edges;
}

/** Folder-level cycles (each as the list of its nodes), by Tarjan's strongly connected components. */
export function folderCycles(edges: readonly ImportEdge[]): string[][] {
  const adj = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!adj.has(e.from)) adj.set(e.from, new Set());
    if (!adj.has(e.to)) adj.set(e.to, new Set());
    adj.get(e.from)!.add(e.to);
  }
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of adj.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...adj.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** Every edge that breaks the rule, as one line naming the file, the import and why. */
export function layerViolations(edges: readonly ImportEdge[]): string[] {
  const problems: string[] = [];
  for (const e of edges) {
    const where = `${e.file}:${e.line} imports '${e.specifier}' (${e.from} -> ${e.to})`;
    const a = layerOf(e.from);
    const b = layerOf(e.to);
    if (a === undefined) {
      problems.push(`${where}: folder "${e.from}" has no layer; add it to LAYERS in test/helpers/import-graph.ts and to README "Layout"`);
      continue;
    }
    if (b === undefined) {
      problems.push(`${where}: folder "${e.to}" has no layer; add it to LAYERS in test/helpers/import-graph.ts and to README "Layout"`);
      continue;
    }
    const only = ONLY[e.from];
    if (only && !only.includes(e.to)) {
      problems.push(`${where}: ${e.from} may import only ${only.join(', ')}`);
    } else if (b > a) {
      problems.push(`${where}: points UP a layer (${e.from} is layer ${a}, ${e.to} is layer ${b})`);
    } else if (b === a) {
      problems.push(`${where}: points SIDEWAYS within layer ${a}; move the shared piece down a layer`);
    }
  }
  return problems;
}

/** "a -> b (n)" lines, for the closing note and for failure messages. */
export function edgeSummary(edges: readonly ImportEdge[]): string[] {
  const counts = new Map<string, number>();
  for (const e of edges) counts.set(`${e.from} -> ${e.to}`, (counts.get(`${e.from} -> ${e.to}`) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} (${n})`);
}

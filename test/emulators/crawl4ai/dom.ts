// A deliberately small HTML toolkit for the Crawl4AI emulator:
//  - a tolerant HTML parser producing a tree (elements + text),
//  - a CSS selector engine (tag, *, .class, #id, [attr], [attr=v|^=|$=|*=|~=], :first-child,
//    :last-child, :nth-child(n), descendant ' ' and child '>' combinators, comma lists),
//  - an HTML serializer,
//  - an HTML -> markdown converter (headings, paragraphs, links [text](href), lists, code, tables, images).
// It only has to be good enough for the fixture pages this emulator generates (and for `raw:` pages in tests).

export interface TextNode {
  kind: 'text';
  text: string;
  parent: ElementNode | null;
}

export interface ElementNode {
  kind: 'element';
  tag: string;
  attrs: Record<string, string>;
  children: DomNode[];
  parent: ElementNode | null;
}

export type DomNode = TextNode | ElementNode;

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title']);

const ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®', mdash: '—', ndash: '–', hellip: '…',
  laquo: '«', raquo: '»', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“', middot: '·', times: '×', euro: '€',
};

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[body.toLowerCase()] ?? m;
  });
}

export function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function el(tag: string, attrs: Record<string, string>, parent: ElementNode | null): ElementNode {
  return { kind: 'element', tag, attrs, children: [], parent };
}

/** Parse an HTML document (or fragment). Always returns a synthetic `#document` root element. */
export function parseHtml(html: string): ElementNode {
  const root = el('#document', {}, null);
  const stack: ElementNode[] = [root];
  const top = (): ElementNode => stack[stack.length - 1]!;
  const tagRe = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<![^>]*>|<\?[^>]*>|<\/\s*([a-zA-Z][\w:-]*)\s*>|<([a-zA-Z][\w:-]*)((?:\s+[^\s/>"'=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*(\/?)>/g;
  let last = 0;
  const pushText = (t: string): void => {
    if (!t) return;
    const parent = top();
    const prev = parent.children[parent.children.length - 1];
    const text = decodeEntities(t);
    if (prev && prev.kind === 'text') prev.text += text;
    else parent.children.push({ kind: 'text', text, parent });
  };
  let m: RegExpExecArray | null;
  while ((m = tagRe.exec(html))) {
    pushText(html.slice(last, m.index));
    last = tagRe.lastIndex;
    if (m[1]) {
      const name = m[1].toLowerCase();
      for (let i = stack.length - 1; i > 0; i--) {
        if (stack[i]!.tag === name) {
          stack.length = i;
          break;
        }
      }
      continue;
    }
    if (!m[2]) continue; // comment, doctype, processing instruction
    const tag = m[2].toLowerCase();
    const attrs: Record<string, string> = {};
    const attrRe = /([^\s/>"'=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
    let a: RegExpExecArray | null;
    const attrText = m[3] ?? '';
    while ((a = attrRe.exec(attrText))) {
      attrs[a[1]!.toLowerCase()] = decodeEntities(a[2] ?? a[3] ?? a[4] ?? '');
    }
    // A few implicit closes that matter for sloppy HTML.
    if ((tag === 'li' && top().tag === 'li') || (tag === 'p' && top().tag === 'p')) stack.pop();
    const node = el(tag, attrs, top());
    top().children.push(node);
    if (VOID.has(tag) || m[4] === '/') continue;
    if (RAW_TEXT.has(tag)) {
      const close = new RegExp(`</${tag}\\s*>`, 'ig');
      close.lastIndex = last;
      const c = close.exec(html);
      const end = c ? c.index : html.length;
      const raw = html.slice(last, end);
      if (raw) node.children.push({ kind: 'text', text: tag === 'title' || tag === 'textarea' ? decodeEntities(raw) : raw, parent: node });
      last = c ? close.lastIndex : html.length;
      tagRe.lastIndex = last;
      continue;
    }
    stack.push(node);
  }
  pushText(html.slice(last));
  return root;
}

export function* walk(node: ElementNode): Generator<ElementNode> {
  for (const c of node.children) {
    if (c.kind === 'element') {
      yield c;
      yield* walk(c);
    }
  }
}

export function textContent(node: DomNode): string {
  if (node.kind === 'text') return node.text;
  if (node.tag === 'script' || node.tag === 'style') return '';
  let s = '';
  for (const c of node.children) s += textContent(c);
  return s;
}

/** Text with whitespace collapsed and trimmed (BeautifulSoup get_text(strip=True)-ish). */
export function cleanText(node: DomNode): string {
  return textContent(node).replace(/\s+/g, ' ').trim();
}

export function findFirst(root: ElementNode, tag: string): ElementNode | undefined {
  for (const n of walk(root)) if (n.tag === tag) return n;
  return undefined;
}

// ---------------------------------------------------------------- serializer

export function outerHtml(node: DomNode, skip?: (n: ElementNode) => boolean): string {
  if (node.kind === 'text') {
    const p = node.parent;
    return p && (p.tag === 'script' || p.tag === 'style') ? node.text : escapeText(node.text);
  }
  if (skip && skip(node)) return '';
  if (node.tag === '#document') return innerHtml(node, skip);
  const attrs = Object.entries(node.attrs)
    .map(([k, v]) => (v === '' ? ` ${k}` : ` ${k}="${escapeAttr(v)}"`))
    .join('');
  if (VOID.has(node.tag)) return `<${node.tag}${attrs}>`;
  return `<${node.tag}${attrs}>${innerHtml(node, skip)}</${node.tag}>`;
}

export function innerHtml(node: ElementNode, skip?: (n: ElementNode) => boolean): string {
  let s = '';
  for (const c of node.children) s += outerHtml(c, skip);
  return s;
}

// ---------------------------------------------------------------- selectors

interface AttrTest {
  name: string;
  op?: '=' | '^=' | '$=' | '*=' | '~=';
  value?: string;
}
interface Compound {
  tag?: string;
  id?: string;
  classes: string[];
  attrs: AttrTest[];
  pseudo: Array<{ name: string; arg?: number }>;
}
interface ComplexSelector {
  parts: Compound[];
  combinators: Array<' ' | '>'>; // combinators[i] joins parts[i] and parts[i+1]
}

const selectorCache = new Map<string, ComplexSelector[]>();

export class SelectorError extends Error {}

export function parseSelector(sel: string): ComplexSelector[] {
  const cached = selectorCache.get(sel);
  if (cached) return cached;
  const out: ComplexSelector[] = [];
  for (const group of splitTopLevel(sel, ',')) {
    const src = group.trim();
    if (!src) throw new SelectorError(`empty selector in '${sel}'`);
    const parts: Compound[] = [];
    const combinators: Array<' ' | '>'> = [];
    let i = 0;
    let pending: ' ' | '>' | null = null;
    while (i < src.length) {
      const ch = src[i]!;
      if (/\s/.test(ch)) {
        if (pending === null && parts.length) pending = ' ';
        i++;
        continue;
      }
      if (ch === '>') {
        if (!parts.length) throw new SelectorError(`bad selector '${sel}'`);
        pending = '>';
        i++;
        continue;
      }
      const c: Compound = { classes: [], attrs: [], pseudo: [] };
      let consumed = false;
      while (i < src.length) {
        const d = src[i]!;
        if (d === '*') {
          i++;
          consumed = true;
        } else if (/[a-zA-Z]/.test(d) && !consumed) {
          const mm = /^[a-zA-Z][\w-]*/.exec(src.slice(i))!;
          c.tag = mm[0].toLowerCase();
          i += mm[0].length;
          consumed = true;
        } else if (d === '.' || d === '#') {
          const mm = /^-?[_a-zA-Z][\w-]*/.exec(src.slice(i + 1));
          if (!mm) throw new SelectorError(`bad selector '${sel}'`);
          if (d === '.') c.classes.push(mm[0]);
          else c.id = mm[0];
          i += 1 + mm[0].length;
          consumed = true;
        } else if (d === '[') {
          const end = src.indexOf(']', i);
          if (end < 0) throw new SelectorError(`bad selector '${sel}'`);
          const body = src.slice(i + 1, end).trim();
          const am = /^([\w:-]+)\s*(?:([\^$*~]?=)\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+)))?$/.exec(body);
          if (!am) throw new SelectorError(`bad attribute selector '[${body}]'`);
          const t: AttrTest = { name: am[1]!.toLowerCase() };
          if (am[2]) {
            t.op = am[2] as AttrTest['op'];
            t.value = am[3] ?? am[4] ?? am[5] ?? '';
          }
          c.attrs.push(t);
          i = end + 1;
          consumed = true;
        } else if (d === ':') {
          const mm = /^:([\w-]+)(?:\(\s*(\d+)\s*\))?/.exec(src.slice(i));
          if (!mm) throw new SelectorError(`bad selector '${sel}'`);
          const name = mm[1]!;
          if (!['first-child', 'last-child', 'nth-child', 'first-of-type', 'last-of-type', 'nth-of-type'].includes(name)) {
            throw new SelectorError(`unsupported pseudo-class ':${name}'`);
          }
          c.pseudo.push(mm[2] ? { name, arg: Number(mm[2]) } : { name });
          i += mm[0].length;
          consumed = true;
        } else break;
      }
      if (!consumed) throw new SelectorError(`bad selector '${sel}' at '${src.slice(i)}'`);
      if (parts.length) combinators.push(pending ?? ' ');
      pending = null;
      parts.push(c);
    }
    if (!parts.length || pending === '>') throw new SelectorError(`bad selector '${sel}'`);
    out.push({ parts, combinators });
  }
  selectorCache.set(sel, out);
  return out;
}

function splitTopLevel(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '(') depth++;
    else if (ch === ']' || ch === ')') depth--;
    else if (ch === sep && depth === 0) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out;
}

function elementSiblings(n: ElementNode): ElementNode[] {
  return n.parent ? (n.parent.children.filter((c) => c.kind === 'element') as ElementNode[]) : [n];
}

function matchCompound(n: ElementNode, c: Compound): boolean {
  if (n.tag === '#document') return false;
  if (c.tag && n.tag !== c.tag) return false;
  if (c.id && n.attrs.id !== c.id) return false;
  if (c.classes.length) {
    const cls = (n.attrs.class ?? '').split(/\s+/);
    for (const k of c.classes) if (!cls.includes(k)) return false;
  }
  for (const a of c.attrs) {
    const v = n.attrs[a.name];
    if (v === undefined) return false;
    if (!a.op) continue;
    const want = a.value ?? '';
    if (a.op === '=' && v !== want) return false;
    if (a.op === '^=' && !v.startsWith(want)) return false;
    if (a.op === '$=' && !v.endsWith(want)) return false;
    if (a.op === '*=' && !v.includes(want)) return false;
    if (a.op === '~=' && !v.split(/\s+/).includes(want)) return false;
  }
  for (const p of c.pseudo) {
    let sibs = elementSiblings(n);
    if (p.name.endsWith('of-type')) sibs = sibs.filter((s) => s.tag === n.tag);
    const idx = sibs.indexOf(n);
    if (p.name.startsWith('first') && idx !== 0) return false;
    if (p.name.startsWith('last') && idx !== sibs.length - 1) return false;
    if (p.name.startsWith('nth') && idx + 1 !== p.arg) return false;
  }
  return true;
}

function matchComplex(n: ElementNode, s: ComplexSelector, scope: ElementNode | null): boolean {
  const within = (x: ElementNode | null): boolean => x !== null && (scope === null || isInside(x, scope));
  const rec = (node: ElementNode, idx: number): boolean => {
    if (!matchCompound(node, s.parts[idx]!)) return false;
    if (idx === 0) return true;
    const comb = s.combinators[idx - 1];
    if (comb === '>') {
      const p = node.parent;
      return within(p) && rec(p!, idx - 1);
    }
    for (let p = node.parent; within(p); p = p!.parent) if (rec(p!, idx - 1)) return true;
    return false;
  };
  return rec(n, s.parts.length - 1);
}

function isInside(n: ElementNode, scope: ElementNode): boolean {
  for (let p: ElementNode | null = n; p; p = p.parent) if (p === scope) return true;
  return false;
}

export function matches(n: ElementNode, selector: string): boolean {
  return parseSelector(selector).some((s) => matchComplex(n, s, null));
}

/** All descendants of `root` matching `selector`, in document order. Like element.querySelectorAll (scoped: the whole
 * selector must match inside `root`, which is what BeautifulSoup's select() does). */
export function selectAll(root: ElementNode, selector: string): ElementNode[] {
  const sels = parseSelector(selector);
  const scope = root.tag === '#document' ? null : root;
  const out: ElementNode[] = [];
  for (const n of walk(root)) if (sels.some((s) => matchComplex(n, s, scope))) out.push(n);
  return out;
}

export function selectOne(root: ElementNode, selector: string): ElementNode | undefined {
  return selectAll(root, selector)[0];
}

// ---------------------------------------------------------------- html -> markdown

export interface MarkdownOptions {
  baseUrl?: string;
  /** elements for which this returns true are skipped entirely */
  skip?: (n: ElementNode) => boolean;
}

const BLOCK = new Set([
  'p', 'div', 'section', 'article', 'main', 'header', 'footer', 'nav', 'aside', 'ul', 'ol', 'li', 'table', 'pre', 'blockquote',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'form', 'figure', 'figcaption', 'dl', 'dt', 'dd', 'body', 'html', '#document',
]);
const DROP = new Set(['script', 'style', 'noscript', 'template', 'head', 'title', 'meta', 'link', 'iframe', 'svg', 'button', 'input', 'select', 'textarea']);

export function absolutize(href: string, base?: string): string {
  if (!base) return href;
  try {
    return new URL(href, base).href;
  } catch {
    return href;
  }
}

function inline(n: DomNode, o: MarkdownOptions): string {
  if (n.kind === 'text') return n.text.replace(/\s+/g, ' ');
  if (DROP.has(n.tag) || (o.skip && o.skip(n))) return '';
  const kids = (): string => n.children.map((c) => inline(c, o)).join('');
  switch (n.tag) {
    case 'a': {
      const text = kids().trim();
      const href = n.attrs.href;
      if (!href || href.startsWith('javascript:')) return text;
      const abs = absolutize(href, o.baseUrl);
      const title = n.attrs.title ? ` "${n.attrs.title}"` : '';
      return `[${text}](${abs}${title})`;
    }
    case 'img':
      return n.attrs.src ? `![${n.attrs.alt ?? ''}](${absolutize(n.attrs.src, o.baseUrl)})` : '';
    case 'strong':
    case 'b': {
      const t = kids().trim();
      return t ? `**${t}**` : '';
    }
    case 'em':
    case 'i': {
      const t = kids().trim();
      return t ? `_${t}_` : '';
    }
    case 'code':
      return '`' + textContent(n) + '`';
    case 'br':
      return '  \n';
    default:
      return kids();
  }
}

function blocks(n: ElementNode, o: MarkdownOptions, out: string[], listDepth: number): void {
  let buf = '';
  const flush = (): void => {
    const t = buf.replace(/[ \t]+/g, ' ').replace(/ *\n */g, '\n').trim();
    if (t) out.push(t);
    buf = '';
  };
  for (const c of n.children) {
    if (c.kind === 'text') {
      buf += inline(c, o);
      continue;
    }
    if (DROP.has(c.tag) || (o.skip && o.skip(c))) continue;
    if (!BLOCK.has(c.tag)) {
      buf += inline(c, o);
      continue;
    }
    flush();
    const hm = /^h([1-6])$/.exec(c.tag);
    if (hm) {
      const t = c.children.map((x) => inline(x, o)).join('').replace(/\s+/g, ' ').trim();
      if (t) out.push(`${'#'.repeat(Number(hm[1]))} ${t}`);
    } else if (c.tag === 'ul' || c.tag === 'ol') {
      const lines: string[] = [];
      let k = 0;
      for (const li of c.children) {
        if (li.kind !== 'element' || li.tag !== 'li' || (o.skip && o.skip(li))) continue;
        k++;
        const sub: string[] = [];
        blocks(li, o, sub, listDepth + 1);
        const marker = c.tag === 'ol' ? `${k}. ` : '* ';
        const indent = '  '.repeat(listDepth);
        const [first = '', ...rest] = sub;
        lines.push(indent + marker + first);
        for (const r of rest) lines.push(r.startsWith('  ') || /^\s*(\*|\d+\.) /.test(r) ? r : indent + '  ' + r);
      }
      if (lines.length) out.push(lines.join('\n'));
    } else if (c.tag === 'pre') {
      const code = textContent(c).replace(/\n+$/, '');
      out.push('```\n' + code + '\n```');
    } else if (c.tag === 'hr') {
      out.push('---');
    } else if (c.tag === 'blockquote') {
      const sub: string[] = [];
      blocks(c, o, sub, listDepth);
      if (sub.length) out.push(sub.join('\n\n').split('\n').map((l) => '> ' + l).join('\n'));
    } else if (c.tag === 'table') {
      const t = tableToMarkdown(c, o);
      if (t) out.push(t);
    } else {
      blocks(c, o, out, listDepth);
    }
  }
  flush();
}

function tableToMarkdown(t: ElementNode, o: MarkdownOptions): string {
  const rows: string[][] = [];
  for (const tr of selectAll(t, 'tr')) {
    rows.push(
      tr.children
        .filter((c): c is ElementNode => c.kind === 'element' && (c.tag === 'td' || c.tag === 'th'))
        .map((c) => c.children.map((x) => inline(x, o)).join('').replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|')),
    );
  }
  if (!rows.length) return '';
  const width = Math.max(...rows.map((r) => r.length));
  const line = (r: string[]): string => '| ' + Array.from({ length: width }, (_, i) => r[i] ?? '').join(' | ') + ' |';
  return [line(rows[0]!), '|' + ' --- |'.repeat(width), ...rows.slice(1).map(line)].join('\n');
}

/** Convert an element (or document) to markdown. Blocks are separated by a blank line; output ends with a newline. */
export function toMarkdown(n: ElementNode, o: MarkdownOptions = {}): string {
  const out: string[] = [];
  if (n.tag !== '#document' && BLOCK.has(n.tag)) {
    const wrapper: ElementNode = { kind: 'element', tag: '#document', attrs: {}, children: [n], parent: null };
    blocks(wrapper, o, out, 0);
  } else if (!BLOCK.has(n.tag)) {
    const t = inline(n, o).trim();
    if (t) out.push(t);
  } else {
    blocks(n, o, out, 0);
  }
  return out.length ? out.join('\n\n') + '\n' : '';
}

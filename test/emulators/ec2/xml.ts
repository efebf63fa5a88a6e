/** Minimal XML writing helpers for the EC2 Query protocol (no dependency on an XML library). */

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

type Scalar = string | number | boolean | undefined | null;

/** A text element; omitted entirely when the value is undefined/null (as AWS omits absent fields). */
export function el(name: string, value: Scalar): string {
  if (value === undefined || value === null) return '';
  return `<${name}>${esc(String(value))}</${name}>`;
}

/** An element with already-rendered children; omitted when `children` is undefined. */
export function node(name: string, children: string | undefined): string {
  if (children === undefined) return '';
  return children === '' ? `<${name}/>` : `<${name}>${children}</${name}>`;
}

/** `<name><item>…</item>…</name>` — the EC2 list shape. Empty lists render as `<name/>`. */
export function items<T>(name: string, list: readonly T[], render: (t: T) => string): string {
  return node(name, list.map((t) => `<item>${render(t)}</item>`).join(''));
}

export function tagSet(tags: Record<string, string>, name = 'tagSet'): string {
  const entries = Object.entries(tags);
  if (entries.length === 0) return '';
  return items(name, entries, ([k, v]) => el('key', k) + el('value', v));
}

export const iso = (ms: number) => new Date(ms).toISOString();

const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export function ec2Response(action: string, requestId: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NS}"><requestId>${requestId}</requestId>${body}</${action}Response>`;
}

export function ec2ErrorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

export function stsResponse(action: string, requestId: string, result: string): string {
  return `<${action}Response xmlns="${STS_NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>\n`;
}

export function stsErrorXml(code: string, message: string, requestId: string, type = 'Sender'): string {
  return `<ErrorResponse xmlns="${STS_NS}"><Error><Type>${type}</Type><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>\n`;
}

/** A list of plain strings: `<name><item>a</item><item>b</item></name>`. */
export function scalarItems(name: string, list: readonly string[]): string {
  return node(name, list.map((v) => `<item>${esc(v)}</item>`).join(''));
}

/**
 * Per-request tool hooks for the MCP server: refuse tools outside the key's allowlist, and collect
 * each call's outcome (tool, URL host, error, bytes, latency) for the registry. The records are
 * written after the answer (waitUntil), so usage costs the caller nothing.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { ToolCallHooks } from '../mcp/server.js';
import type { CallRecord, KeyGrant } from './key-registry.js';

/** Longest a request's usage waits for its calls to finish before it is written anyway. */
const SETTLE_TIMEOUT_MS = 120_000;

/** Only the host of the URL a call names: never the path or query, which can carry secrets. */
export function hostOf(args: unknown): string | null {
  const a = (args ?? {}) as { url?: unknown; urls?: unknown };
  const first = typeof a.url === 'string' ? a.url : Array.isArray(a.urls) && typeof a.urls[0] === 'string' ? a.urls[0] : undefined;
  if (!first) return null;
  try {
    return new URL(first).hostname.slice(0, 253) || null;
  } catch {
    return null;
  }
}

/** UTF-8 length of a string, counted without encoding it (a page's text can be tens of KB). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair (2 code units): 4 bytes
      i++;
    } else n += 2; // 3 bytes (a lone surrogate is encoded as U+FFFD: 3 bytes too)
  }
  return n;
}

/** UTF-8 bytes of what the call returned to the client (text, and base64 image data). */
export function bytesOf(result: CallToolResult): number {
  let n = 0;
  for (const c of result.content ?? []) {
    if (c.type === 'text') n += utf8Length(c.text);
    else if (c.type === 'image' || c.type === 'audio') n += c.data.length;
  }
  return n;
}

export interface CalledTool {
  tool: string;
  args: unknown;
}

export interface RequestUsage {
  hooks: ToolCallHooks;
  /** resolves with the records once every call settled, or finish() was called */
  done: Promise<CallRecord[]>;
  /** the answer is complete: calls that never reached a tool are recorded as errors */
  finish(): void;
  /** the request was refused (401/429): nothing is recorded */
  discard(): void;
}

/**
 * `grant` may still be on its way (the registry's check runs while the SDK parses the request):
 * each tool waits for it before it runs, so nothing reaches the origin before the key is admitted.
 * A request that is refused altogether is `discard`ed and records nothing.
 */
export function trackRequest(grant: KeyGrant | Promise<KeyGrant>, expected: CalledTool[]): RequestUsage {
  const records: CallRecord[] = [];
  const started = Date.now();
  let admitted: KeyGrant | undefined;
  let allowed: Set<string> | null = null;
  const granted = Promise.resolve(grant).then((g) => {
    admitted = g;
    allowed = g.tools ? new Set(g.tools) : null;
    return g;
  });
  granted.catch(() => undefined); // a refusal is answered by the caller, not here
  let finished = false;
  let resolve!: (r: CallRecord[]) => void;
  const done = new Promise<CallRecord[]>((r) => (resolve = r));
  let dropped = false;
  const complete = (g: KeyGrant): CallRecord[] => {
    if (dropped) return []; // refused: nothing ran, nothing is recorded
    // the calls the SDK answered without running a tool (unknown tool, invalid arguments)
    const left = [...expected];
    for (const r of records) {
      const i = left.findIndex((c) => c.tool === r.tool);
      if (i >= 0) left.splice(i, 1);
    }
    for (const c of left) records.push({ keyId: g.id, tool: c.tool, host: hostOf(c.args), error: true, bytes: 0, ms: Date.now() - started, at: Date.now() });
    return records;
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    // the SDK may have answered (invalid arguments) before the admission came back: wait for it
    granted.then(
      (g) => resolve(complete(g)),
      () => resolve([]),
    );
  };
  const timer = setTimeout(finish, SETTLE_TIMEOUT_MS);
  const hooks: ToolCallHooks = {
    refuse: async (tool) => {
      const g = await granted;
      return allowed && !allowed.has(tool)
        ? {
            message: `tool "${tool}" is outside the scope of key "${g.name}" (scope: ${g.tools!.join(', ') || 'no tools'})`,
            hint: `use one of those tools, or ask the deployment's owner for a key whose --tools includes ${tool}`,
          }
        : undefined;
    },
    closed: finish,
    settled: ({ tool, args, result, ms }) => {
      if (finished || !admitted) return;
      records.push({ keyId: admitted.id, tool, host: hostOf(args), error: result.isError === true, bytes: bytesOf(result), ms, at: Date.now() });
      if (records.length >= expected.length) finish();
    },
  };
  const discard = () => {
    dropped = true;
    finish();
  };
  return { hooks, done, finish, discard };
}

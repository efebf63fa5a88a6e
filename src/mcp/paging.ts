/**
 * Answers sized for a context window. Claude Code refuses tool output over 25k tokens by default;
 * 40,000 characters is ~10k tokens, so a page fits with room for the conversation.
 */
export const DEFAULT_MAX_CHARS = 40_000;
export const MAX_MAX_CHARS = 100_000;

export interface Page {
  /** The text of this page: exactly `text.slice(start, end)`. */
  chunk: string;
  start: number;
  end: number;
  total: number;
  /** Where the next page starts, or null when this page reaches the end. */
  nextOffset: number | null;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Cuts `text` at `[offset, offset + maxChars)`, preferring to end at a line break in the last 20%
 * of the window, and never inside a surrogate pair. Consecutive pages (each starting at the
 * previous `nextOffset`) concatenate back to the exact original text.
 */
export function pageText(text: string, offset: number, maxChars: number): Page {
  const total = text.length;
  const start = Math.min(Math.max(0, Math.floor(offset)), total);
  let end = Math.min(total, start + Math.max(1, Math.floor(maxChars)));
  if (end < total) {
    const floor = start + Math.floor((end - start) * 0.8);
    const nl = text.lastIndexOf('\n', end - 1);
    if (nl >= floor && nl + 1 > start) end = nl + 1;
    else if (isHighSurrogate(text.charCodeAt(end - 1)) && end - 1 > start) end -= 1;
  }
  return { chunk: text.slice(start, end), start, end, total, nextOffset: end < total ? end : null };
}

/** The line telling the model a page was cut and how to get the rest. */
export function pagingNotice(p: Page, continueWith: string): string | null {
  if (p.nextOffset !== null) {
    return `[Truncated: showing characters ${p.start}–${p.end} of ${p.total}. To continue, call ${continueWith} with offset=${p.nextOffset}.]`;
  }
  if (p.start > 0) return `[End of content: characters ${p.start}–${p.end} of ${p.total}.]`;
  return null;
}

/** Shortens a text to `max` characters with a marker (for parts that are not paged). */
export function clip(text: string, max: number, marker = '…[cut]'): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - marker.length);
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
  return text.slice(0, end) + marker;
}

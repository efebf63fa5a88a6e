/** What a call's usage record says it returned: UTF-8 bytes, counted without encoding the text. */
import { describe, expect, it } from 'vitest';
import { bytesOf, hostOf, utf8Length } from '../src/worker/tool-usage.ts';

describe('usage records', () => {
  it('counts UTF-8 bytes exactly as an encoder would: ASCII, 2- and 3-byte characters, surrogate pairs, lone surrogates', () => {
    const samples = ['', 'plain ascii', 'café ñ ß', '日本語のページ', 'emoji 🙂 and 𝄞', 'lone \ud800 high', 'lone \udc00 low', 'pair at end \ud83d\ude42', 'high at end \ud83d', 'x'.repeat(5000) + 'é'.repeat(3000)];
    for (const s of samples) expect(utf8Length(s), JSON.stringify(s.slice(0, 20))).toBe(new TextEncoder().encode(s).length);
  });

  it('bytes of a result: its text as UTF-8 and its images and audio as the base64 sent', () => {
    expect(bytesOf({ content: [{ type: 'text', text: 'Ünïcode' }, { type: 'image', data: 'aGVsbG8=', mimeType: 'image/png' }] })).toBe(9 + 8);
    expect(bytesOf({ content: [] })).toBe(0);
  });

  it('names only the host of the URL a call asked for, never its path or query', () => {
    expect(hostOf({ url: 'https://docs.example.com/private/path?token=secret' })).toBe('docs.example.com');
    expect(hostOf({ urls: ['https://a.example.org/x'] })).toBe('a.example.org');
    expect(hostOf({ url: 'not a url' })).toBeNull();
  });
});

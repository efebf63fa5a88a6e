// Real (small) PNG and PDF files, built by hand so the emulator has no image/PDF dependency.

import { deflateSync } from 'node:zlib';

// ------------------------------------------------------------------ CRC32 (PNG chunk checksums)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + data.length), 8 + data.length);
  return out;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encode 8-bit RGB pixels (row-major, no filter bytes) as a PNG. */
export function encodePng(width: number, height: number, rgb: Uint8Array, level = 6): Buffer {
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type None
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter
  ihdr[12] = 0; // interlace
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level })), chunk('IEND', Buffer.alloc(0))]);
}

/** Read width/height from a PNG's IHDR. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/**
 * A fake "full-page screenshot": a white page with a header bar and grey bars standing in for text lines, derived from
 * the page text (so it is deterministic per page). `noisy` fills the body with incompressible pixels instead, which is
 * how the `huge` fixture gets a ~1.5 MB PNG.
 */
export function renderScreenshot(opts: { lines: string[]; width?: number; noisy?: boolean; seed?: number }): Buffer {
  const width = opts.width ?? 800;
  if (opts.noisy) {
    const height = 640; // 800 * 640 * 3 = 1.536 MB of incompressible pixel data
    const px = new Uint8Array(width * height * 3);
    let x = (opts.seed ?? 0x9e3779b9) >>> 0 || 1;
    for (let i = 0; i < px.length; i += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      px[i] = x & 0xff;
      if (i + 1 < px.length) px[i + 1] = (x >>> 8) & 0xff;
      if (i + 2 < px.length) px[i + 2] = (x >>> 16) & 0xff;
      if (i + 3 < px.length) px[i + 3] = (x >>> 24) & 0xff;
    }
    return encodePng(width, height, px, 0); // noise does not compress: store it (fast)
  }
  const lineH = 18;
  const lines = opts.lines.slice(0, 200);
  const height = Math.max(240, 60 + lines.length * lineH + 40);
  const px = new Uint8Array(width * height * 3).fill(255);
  const fill = (x0: number, y0: number, w: number, h: number, r: number, g: number, b: number): void => {
    for (let y = y0; y < Math.min(height, y0 + h); y++) {
      for (let xx = x0; xx < Math.min(width, x0 + w); xx++) {
        const o = (y * width + xx) * 3;
        px[o] = r;
        px[o + 1] = g;
        px[o + 2] = b;
      }
    }
  };
  fill(0, 0, width, 40, 0x24, 0x3b, 0x55); // header bar
  lines.forEach((l, i) => {
    const heading = l.startsWith('#');
    const w = Math.min(width - 40, 8 + l.length * (heading ? 9 : 6));
    const [r, g, b] = heading ? [0x22, 0x22, 0x22] : l.includes('](') ? [0x1a, 0x5f, 0xb4] : [0x99, 0x99, 0x99];
    fill(20, 60 + i * lineH, w, heading ? 12 : 8, r, g, b);
  });
  return encodePng(width, height, px);
}

// ------------------------------------------------------------------ PDF

function pdfEscape(s: string): string {
  // WinAnsiEncoding == Latin-1 for 0x20-0x7e and 0xa0-0xff; anything else becomes '?'
  return s.replace(/[^\x20-\x7e\xa0-\xff]/g, '?').replace(/([\\()])/g, '\\$1');
}

function wrap(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const out: string[] = [];
  let cur = '';
  for (const word of line.split(' ')) {
    if (cur && cur.length + 1 + word.length > width) {
      out.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
    while (cur.length > width) {
      out.push(cur.slice(0, width));
      cur = cur.slice(width);
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** A minimal, valid PDF 1.4 (uncompressed content streams, Helvetica, correct xref offsets). */
export function renderPdf(title: string, text: string): Buffer {
  const lines = text.split('\n').flatMap((l) => wrap(l, 95));
  const perPage = 60;
  const pages: string[][] = [];
  for (let i = 0; i < Math.max(1, lines.length); i += perPage) pages.push(lines.slice(i, i + perPage));
  // object numbers: 1 catalog, 2 pages, 3 font, 4 info, then page i -> 5+2i, content i -> 6+2i
  const objs: string[] = [];
  const kids = pages.map((_, i) => `${5 + 2 * i} 0 R`).join(' ');
  objs[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objs[2] = `<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`;
  objs[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>';
  objs[4] = `<< /Title (${pdfEscape(title)}) /Producer (crawl4ai-emulator) >>`;
  pages.forEach((pl, i) => {
    const ops = ['BT', '/F1 10 Tf', '12 TL', '40 800 Td'];
    for (const l of pl) ops.push(`(${pdfEscape(l)}) '`);
    ops.push('ET');
    const stream = ops.join('\n');
    objs[5 + 2 * i] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents ${6 + 2 * i} 0 R >>`;
    objs[6 + 2 * i] = `<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`;
  });
  let out = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  for (let n = 1; n < objs.length; n++) {
    offsets[n] = Buffer.byteLength(out, 'latin1');
    out += `${n} 0 obj\n${objs[n]}\nendobj\n`;
  }
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objs.length}\n0000000000 65535 f \n`;
  for (let n = 1; n < objs.length; n++) out += `${String(offsets[n]).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objs.length} /Root 1 0 R /Info 4 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

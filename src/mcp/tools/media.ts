import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { clientFor, formatBytes, ok, requirePublicUrl, text, type ToolConfig } from '../context.js';
import type { ArtifactResponse } from '../crawl4ai.js';
import { ToolError } from '../errors.js';
import { urlField } from './scrape.js';
import { defineTool } from './types.js';

function base64Bytes(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - pad;
}

function artifactLine(a: ArtifactResponse, cfg: ToolConfig): string {
  if (!a.artifact_id) return 'This Crawl4AI server (older than 0.9) keeps no artifact copy.';
  const where = a.url ?? `/artifacts/${a.artifact_id}`;
  return `Stored on your Crawl4AI server${cfg.origin.label ? ` (${cfg.origin.label})` : ''} as artifact ${a.artifact_id}: GET ${where} with the Crawl4AI token; it expires after 1 hour.`;
}

export const screenshotTool = defineTool({
  name: 'screenshot',
  title: 'Screenshot a web page',
  description: [
    'Take a full-page PNG screenshot of a web page with your Crawl4AI server and return it as an image you can look at.',
    '',
    'Best for: checking layout or visual design, pages whose meaning is in images or charts, verifying what a user would see.',
    'Not for: reading text (use scrape: text is cheaper and searchable), PDFs of a page (use pdf).',
    'Common mistakes: very long pages give very tall images; screenshots above the size limit are not sent inline: you get the size and an artifact reference instead; raise wait_seconds for pages that load content late.',
    'Returns: an image/png block plus a line with its size and artifact id.',
  ].join('\n'),
  inputSchema: z.object({
    url: urlField,
    wait_seconds: z.number().min(0).max(10).default(2).describe('Seconds to wait after load before the screenshot (default 2)'),
  }),
  annotations: { title: 'Screenshot a web page', readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: true },
  async run(args, cfg, ctx): Promise<CallToolResult> {
    const url = requirePublicUrl(args.url).href;
    const client = clientFor(cfg, ctx);
    const a = await client.screenshot(url, args.wait_seconds);
    if (!a.screenshot) throw new ToolError(`Crawl4AI returned no screenshot for ${url}`, 'retry with a larger wait_seconds');
    const bytes = a.size ?? base64Bytes(a.screenshot);
    if (bytes > cfg.screenshotMaxBytes) {
      return ok(
        text(
          `The screenshot of ${url} is ${formatBytes(bytes)} (PNG), over this server's inline limit of ${formatBytes(cfg.screenshotMaxBytes)}, so it is not shown. ${artifactLine(a, cfg)} For the page's content use scrape.`,
        ),
      );
    }
    return ok(
      { type: 'image', data: a.screenshot, mimeType: a.mime ?? 'image/png' },
      text(`Screenshot of ${url}: ${formatBytes(bytes)} PNG. ${artifactLine(a, cfg)}`),
    );
  },
});

export const pdfTool = defineTool({
  name: 'pdf',
  title: 'Render a web page as PDF',
  description: [
    'Render a web page to a PDF file on your Crawl4AI server and return a reference to it (artifact id, size), never the file inline.',
    '',
    'Best for: archiving or sharing a page as a document the user downloads from their server.',
    'Not for: reading the page (use scrape), seeing it (use screenshot).',
    'Common mistakes: expecting the PDF content in the answer: it is stored on the Crawl4AI server for 1 hour and only its reference is returned.',
    'Returns: size, MIME type and the artifact reference.',
  ].join('\n'),
  inputSchema: z.object({ url: urlField }),
  annotations: { title: 'Render a web page as PDF', readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: true },
  async run(args, cfg, ctx) {
    const url = requirePublicUrl(args.url).href;
    const client = clientFor(cfg, ctx);
    const a = await client.pdf(url);
    const bytes = a.size ?? (a.pdf ? base64Bytes(a.pdf) : undefined);
    if (bytes === undefined && !a.artifact_id) throw new ToolError(`Crawl4AI returned no PDF for ${url}`, 'retry once');
    return ok(
      text(
        `PDF of ${url} rendered: ${bytes !== undefined ? `${formatBytes(bytes)} (${bytes} bytes)` : 'size unknown'}, ${a.mime ?? 'application/pdf'}. ${artifactLine(a, cfg)} The file is not included here; use scrape for the page's text.`,
      ),
    );
  },
});

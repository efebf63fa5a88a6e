import { Option } from 'commander';
import { usageError } from '../ground/errors.js';

/** `--origin`, shared by `serve` and `dev`: the Crawl4AI server the tools talk to. */
export function originOption(): Option {
  return new Option('--origin <url>', 'Crawl4AI base URL, e.g. http://localhost:11235').env('CRAWL4AI_MCP_ORIGIN');
}

/** Validates `--origin`: present, a URL, http(s). One clear line when it is not. */
export function parseOrigin(value: string | undefined): URL {
  if (!value) throw usageError('no Crawl4AI origin given', 'pass --origin http://localhost:11235 or set CRAWL4AI_MCP_ORIGIN');
  let origin: URL;
  try {
    origin = new URL(value);
  } catch {
    throw usageError(`--origin is not a URL: ${value}`, 'e.g. --origin http://localhost:11235');
  }
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:') throw usageError('--origin must be an http:// or https:// URL');
  return origin;
}

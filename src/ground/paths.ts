import os from 'node:os';
import path from 'node:path';

/**
 * Where crawl4ai-mcp keeps its files: CRAWL4AI_MCP_HOME when set, else the platform's usual
 * config location (XDG on Linux, Application Support on macOS, %APPDATA% on Windows).
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CRAWL4AI_MCP_HOME) return path.resolve(env.CRAWL4AI_MCP_HOME);
  const home = os.homedir();
  switch (process.platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'crawl4ai-mcp');
    case 'win32':
      return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'crawl4ai-mcp');
    default:
      return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'crawl4ai-mcp');
  }
}

/**
 * Where downloads that can be fetched again live (the cloud SDKs installed on first use):
 * CRAWL4AI_MCP_HOME/cache when that is set, else the platform's cache location (XDG_CACHE_HOME on
 * Linux, Library/Caches on macOS, %LOCALAPPDATA% on Windows). Deleting it only costs a re-download.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CRAWL4AI_MCP_HOME) return path.join(path.resolve(env.CRAWL4AI_MCP_HOME), 'cache');
  const home = os.homedir();
  switch (process.platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Caches', 'crawl4ai-mcp');
    case 'win32':
      return path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'crawl4ai-mcp', 'Cache');
    default:
      return path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'crawl4ai-mcp');
  }
}

export const deploymentsDir = (env?: NodeJS.ProcessEnv) => path.join(configDir(env), 'deployments');
export const secretsFile = (env?: NodeJS.ProcessEnv) => path.join(configDir(env), 'secrets.enc.json');

/** Deployment names become file names, Worker names and cloud tags, so they are kept simple. */
export const DEPLOYMENT_NAME_RE = /^[a-z0-9-]{1,32}$/;

import { registerSecret } from '../ground/redact.js';

/**
 * Environment variables whose values are secrets. Their values are registered for redaction at
 * start-up, so they are masked in every line the CLI prints, even inside an error message.
 */
export const SECRET_ENV_VARS = [
  'CRAWL4AI_MCP_PASSPHRASE',
  'CRAWL4AI_API_TOKEN',
  'CRAWL4AI_MCP_DEV_KEY',
  'CLOUDFLARE_API_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_CLIENT_SECRET',
  'GOOGLE_OAUTH_ACCESS_TOKEN',
] as const;

export function registerEnvSecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SECRET_ENV_VARS) registerSecret(env[name]);
}

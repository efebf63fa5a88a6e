/**
 * The deployment's OAUTH_KV namespace (OAuth clients, grants and hashed tokens of
 * @cloudflare/workers-oauth-provider). Found by its title, which is derived from the deployment
 * name, so creating is idempotent (a re-run of `init` reuses it) and `destroy` finds it even when
 * the state file is lost. Needs the token's "Workers KV Storage: Edit" permission.
 */
import { CloudflareApi } from './api.js';

interface KvNamespace {
  id: string;
  title: string;
}

export function oauthKvTitle(deployment: string): string {
  return `crawl4ai-mcp-${deployment}-oauth`;
}

async function find(api: CloudflareApi, title: string): Promise<KvNamespace | undefined> {
  const all = await api.list<KvNamespace>(api.accountPath('/storage/kv/namespaces'), { per_page: 100 });
  return all.find((n) => n.title === title);
}

/** The namespace's id, created when missing. */
export async function ensureOAuthKv(api: CloudflareApi, deployment: string): Promise<string> {
  const title = oauthKvTitle(deployment);
  const have = await find(api, title);
  if (have) return have.id;
  const made = await api.post<KvNamespace>(api.accountPath('/storage/kv/namespaces'), { title });
  return made.id;
}

/** Deletes the namespace if it exists; true when one was deleted. */
export async function deleteOAuthKv(api: CloudflareApi, deployment: string): Promise<boolean> {
  const have = await find(api, oauthKvTitle(deployment));
  if (!have) return false;
  await api.delete(api.accountPath(`/storage/kv/namespaces/${encodeURIComponent(have.id)}`));
  return true;
}

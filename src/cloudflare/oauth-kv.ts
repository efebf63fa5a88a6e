/**
 * The deployment's OAUTH_KV namespace (OAuth clients, grants and hashed tokens of
 * @cloudflare/workers-oauth-provider). Found by its title, which is derived from the deployment
 * name, so creating is idempotent (a re-run of `init` reuses it) and `destroy` finds it even when
 * the state file is lost. Needs the token's "Workers KV Storage: Edit" permission.
 */
import { CloudflareApi, isCloudflareApiError } from './api.js';
import { credentialsError } from '../ground/errors.js';

interface KvNamespace {
  id: string;
  title: string;
}

export function oauthKvTitle(deployment: string): string {
  return `crawl4ai-mcp-${deployment}-oauth`;
}

async function find(api: CloudflareApi, title: string): Promise<KvNamespace | undefined> {
  let all: KvNamespace[];
  try {
    all = await api.list<KvNamespace>(api.accountPath('/storage/kv/namespaces'), { per_page: 100 });
  } catch (e) {
    // the first account-scoped call of a deploy: a wrong account id shows here first (7003), and
    // must read as it does when wrangler meets it
    if (isCloudflareApiError(e) && e.codes.includes(7003)) {
      throw credentialsError(
        `CLOUDFLARE_ACCOUNT_ID "${api.accountId}" is not a Cloudflare account id (the API could not route the request for the OAuth KV namespace)`,
        'copy the 32-character Account ID from the Cloudflare dashboard (Workers & Pages, right-hand column) into CLOUDFLARE_ACCOUNT_ID',
      );
    }
    throw e;
  }
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

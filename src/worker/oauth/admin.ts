/**
 * The OAuth parts of the admin API: minting pairing codes, and deleting an approved client's
 * registration when its key record is revoked (`crawl4ai-mcp keys revoke`).
 *
 * Deleting the registration is what Claude's connector expects of a cut-off client: its token
 * endpoint then answers 401 invalid_client, and Claude registers again, which needs the owner's
 * approval (a new pairing code) again.
 */
import { getOAuthApi } from '@cloudflare/workers-oauth-provider';
import { generatePairingCode, hashPairingCode, normalisePairingCode } from './pairing-code.js';
import { registryStub, type OAuthEnv } from './provider.js';
import { PAIRING_TTL_MS } from './pairing-store.js';

export type OAuthAdminEnv = Partial<Pick<OAuthEnv, 'OAUTH_KV'>>;

export async function mintPairingCode(env: Pick<OAuthEnv, 'KEYS'>): Promise<{ code: string; expires_at: number; ttl_seconds: number }> {
  const code = generatePairingCode();
  const { expiresAt } = await registryStub(env as OAuthEnv).addPairingCode(await hashPairingCode(normalisePairingCode(code)!));
  return { code, expires_at: expiresAt, ttl_seconds: PAIRING_TTL_MS / 1000 };
}

/**
 * Revokes every active key named `name` (admin API and dashboard alike); when it was an approved
 * OAuth client, its registration and grants go too. Returns how many keys were revoked.
 */
export async function revokeKeyNamed(env: OAuthAdminEnv & Pick<OAuthEnv, 'KEYS'>, name: string): Promise<number> {
  const registry = registryStub(env as OAuthEnv);
  const oauthIds = (await registry.listKeys()).filter((k) => k.name === name && k.source === 'oauth').map((k) => k.id);
  const n = await registry.revokeKey(name);
  if (n > 0 && oauthIds.length > 0) await forgetOAuthClients(env, oauthIds);
  return n;
}

/** Deletes the OAuth registrations behind these (just revoked) key records, and their grants. */
export async function forgetOAuthClients(env: OAuthAdminEnv & Pick<OAuthEnv, 'KEYS'>, keyIds: string[]): Promise<void> {
  const kv = env.OAUTH_KV;
  if (!kv) return;
  // getOAuthApi needs only the KV binding for client and grant records; the options are not used for that
  const api = getOAuthApi({ apiRoute: '/mcp', apiHandler: { fetch: () => new Response(null) }, defaultHandler: { fetch: () => new Response(null) }, authorizeEndpoint: '/authorize', tokenEndpoint: '/oauth/token', resourceMetadata: { resource: 'http://localhost/mcp' } } as never, env as never);
  for (const id of keyIds) {
    const clientId = await kv.get(`c4m:key-client:${id}`);
    if (!clientId) continue;
    await api.deleteClient(clientId);
    await kv.delete(`c4m:key-client:${id}`);
    await kv.delete(`c4m:client-key:${clientId}`);
  }
}

import { createSign } from 'node:crypto';
import type { AuthClient } from 'google-auth-library';
import { cloudSdk } from '../../ground/cloud-sdk.js';
import { credentialsError, usageError } from '../../ground/errors.js';
import { registerSecret } from '../../ground/redact.js';
import type { ProviderContext } from '../provider.js';

/**
 * GCP credentials: a service-account key (JSON, from the secret store) or Application Default
 * Credentials (`--credentials chain`: gcloud's ADC file, GOOGLE_APPLICATION_CREDENTIALS, or the
 * metadata server). With CRAWL4AI_MCP_GCP_ENDPOINT set, the key's JWT is signed here (RS256) and
 * exchanged at `<endpoint>/token`: google-auth-library ignores a key's token_uri and always talks
 * to Google, which an emulator or a private endpoint cannot answer.
 */
export const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

export interface GcpAuth {
  authClient: AuthClient;
  project: string;
  /** who the credentials are (the service account's email, or "application default credentials") */
  identity: string;
}

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  project_id: string;
}

/** The key JSON, checked for the fields used; never echoed (it holds a private key). */
export function parseServiceAccountKey(text: string | undefined): ServiceAccountKey {
  registerSecret(text);
  let key: Partial<ServiceAccountKey> & { type?: string };
  try {
    key = JSON.parse(text ?? '') as typeof key;
  } catch {
    throw credentialsError('the stored GCP service-account key is not valid JSON', 'create a key with `gcloud iam service-accounts keys create key.json --iam-account …` and enter the file\'s content');
  }
  registerSecret(key.private_key);
  if (key.type !== 'service_account' || !key.client_email || !key.private_key || !key.project_id) {
    throw credentialsError(
      'the stored GCP credentials are not a service-account key (type, client_email, private_key and project_id are needed)',
      'enter the JSON key file of the service account (README: "GCP set-up"), or choose application default credentials',
    );
  }
  return key as ServiceAccountKey;
}

/** `https://127.0.0.1:8443` from CRAWL4AI_MCP_GCP_ENDPOINT, or undefined for Google's own endpoints. */
export function gcpEndpoint(env: NodeJS.ProcessEnv): URL | undefined {
  const v = env.CRAWL4AI_MCP_GCP_ENDPOINT;
  if (!v) return undefined;
  try {
    const u = new URL(v);
    if (u.protocol !== 'https:') throw new Error('not https');
    return u;
  } catch {
    throw usageError(`CRAWL4AI_MCP_GCP_ENDPOINT is not an https URL: ${v}`, 'set it to e.g. https://127.0.0.1:8443, or unset it to use Google\'s endpoints');
  }
}

export async function gcpAuth(ctx: ProviderContext): Promise<GcpAuth> {
  const endpoint = gcpEndpoint(ctx.env);
  const gal = await (await cloudSdk('gcp', ctx)).import<typeof import('google-auth-library')>('google-auth-library');
  if (ctx.credentials.kind === 'chain') {
    if (endpoint) throw usageError('CRAWL4AI_MCP_GCP_ENDPOINT needs a service-account key', 'choose --credentials keychain and enter a key');
    const auth = new gal.GoogleAuth({ scopes: SCOPES });
    try {
      const authClient = (await auth.getClient()) as AuthClient;
      const project = ctx.env.GOOGLE_CLOUD_PROJECT || ctx.env.CLOUDSDK_CORE_PROJECT || (await auth.getProjectId());
      const email = (await auth.getCredentials().catch(() => ({}) as { client_email?: string })).client_email;
      return { authClient, project, identity: email ?? 'application default credentials' };
    } catch (e) {
      throw credentialsError(
        'no GCP application default credentials (or no project) found',
        'run `gcloud auth application-default login` and set GOOGLE_CLOUD_PROJECT, or enter a service-account key in crawl4ai-mcp init',
        e,
      );
    }
  }
  const key = parseServiceAccountKey(ctx.credentials.values.serviceAccountKey);
  if (!endpoint) {
    const authClient = new gal.JWT({ email: key.client_email, key: key.private_key, scopes: SCOPES });
    return { authClient, project: key.project_id, identity: key.client_email };
  }
  const tokenUrl = new URL('/token', endpoint).toString();
  const { accessToken, expiresAt } = await exchangeJwt(key, tokenUrl);
  const authClient = new gal.OAuth2Client();
  authClient.setCredentials({ access_token: accessToken, expiry_date: expiresAt });
  return { authClient, project: key.project_id, identity: key.client_email };
}

/** The service-account JWT grant (RFC 7523), signed with the key, exchanged at `tokenUrl`. */
async function exchangeJwt(key: ServiceAccountKey, tokenUrl: string): Promise<{ accessToken: string; expiresAt: number }> {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: key.client_email, scope: SCOPES.join(' '), aud: tokenUrl, iat: now, exp: now + 3600 })}`;
  let signature: string;
  try {
    signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key, 'base64url');
  } catch (e) {
    throw credentialsError('the GCP service-account key\'s private key cannot sign (is the key complete?)', 'create a new key for the service account and enter it again', e);
  }
  let res: Response;
  try {
    res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${signature}` }),
    });
  } catch (e) {
    throw credentialsError(`cannot reach the GCP token endpoint ${tokenUrl}`, 'check CRAWL4AI_MCP_GCP_ENDPOINT and that it is running', e);
  }
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!res.ok || !body.access_token) {
    throw credentialsError(
      `GCP rejected the service-account key (${body.error ?? res.status}${body.error_description ? `: ${body.error_description}` : ''})`,
      'check that the key is current (not deleted or disabled) and belongs to the project; create a new key if needed',
    );
  }
  registerSecret(body.access_token);
  return { accessToken: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 };
}

/**
 * Wake on request on GCP: the deployment's instance, read and started with its wake credential, a
 * service-account key whose only grant is the custom role crawl4aiMcpWake (compute.instances.get +
 * compute.instances.start) on that one instance (src/providers/gcp/wake-credential.ts).
 *
 * No SDK and no Node API (the Worker bundle): the service-account JWT grant (RFC 7523) is signed
 * RS256 with WebCrypto and exchanged at the key's token_uri; the access token is kept per isolate
 * until shortly before it expires. Compute's REST API answers the instance's status.
 */
import { importRsaSigningKey, signRs256Jwt } from './rs256-jwt.js';
import { HOLD_LABEL } from '../model/deployment.js';
import type { VmPower, WakeTarget } from './wake.js';

const COMPUTE = 'https://compute.googleapis.com/compute/v1/';
/** Compute's own scope: enough for instances.get and instances.start, nothing beyond Compute */
const SCOPE = 'https://www.googleapis.com/auth/compute';
/** renew the token this long before Google's expiry */
const TOKEN_MARGIN_MS = 5 * 60_000;

interface ServiceAccountKeyFile {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

/** Per isolate: access tokens by key id, until shortly before expiry. */
const tokens = new Map<string, { token: string; expiresAt: number }>();

/** Test hook: forget the isolate's tokens. */
export function resetGcpTokens(): void {
  tokens.clear();
}

export function parseWakeKey(text: string): ServiceAccountKeyFile {
  let key: Partial<ServiceAccountKeyFile>;
  try {
    key = JSON.parse(text) as Partial<ServiceAccountKeyFile>;
  } catch {
    throw new Error('the wake key (WAKE_GCP_KEY) is not JSON');
  }
  if (!key.client_email || !key.private_key) throw new Error('the wake key (WAKE_GCP_KEY) lacks client_email or private_key');
  return key as ServiceAccountKeyFile;
}

/** An access token for the key: cached, or from a freshly signed JWT exchanged at the key's token_uri. */
async function accessToken(key: ServiceAccountKeyFile, fetcher: typeof fetch): Promise<string> {
  const cacheKey = `${key.client_email}:${key.private_key_id ?? ''}`;
  const cached = tokens.get(cacheKey);
  if (cached && cached.expiresAt - TOKEN_MARGIN_MS > Date.now()) return cached.token;
  const tokenUri = key.token_uri ?? 'https://oauth2.googleapis.com/token';
  const now = Math.floor(Date.now() / 1000);
  let assertion: string;
  try {
    assertion = await signRs256Jwt(
      await importRsaSigningKey(key.private_key),
      key.private_key_id ? { kid: key.private_key_id } : {},
      { iss: key.client_email, scope: SCOPE, aud: tokenUri, iat: now, exp: now + 3600 },
    );
  } catch {
    throw new Error('the wake key (WAKE_GCP_KEY) cannot sign: its private key is not a PKCS#8 RSA key');
  }
  const res = await fetcher(tokenUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!res.ok || !body.access_token) throw new Error(`Google refused the wake key (${body.error ?? `HTTP ${res.status}`}${body.error_description ? `: ${body.error_description}` : ''})`);
  tokens.set(cacheKey, { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 });
  return body.access_token;
}

/** Compute's instance status as the wake logic sees it. */
export function gcpPower(instance: { status?: string; lastStartTimestamp?: string; labels?: Record<string, string> }): VmPower {
  const power = powerOf(instance);
  return instance.labels?.[HOLD_LABEL] !== undefined ? { ...power, held: true } : power;
}

function powerOf(instance: { status?: string; lastStartTimestamp?: string }): VmPower {
  const t = instance.lastStartTimestamp ? Date.parse(instance.lastStartTimestamp) : NaN;
  const since = Number.isFinite(t) ? { since: t } : {};
  switch (instance.status) {
    case 'PROVISIONING':
    case 'STAGING':
    case 'REPAIRING':
      return { state: 'pending' };
    case 'RUNNING':
      return { state: 'running', ...since };
    case 'STOPPING':
    case 'SUSPENDING':
      return { state: 'stopping' };
    case 'TERMINATED':
    case 'SUSPENDED':
      return { state: 'stopped' };
    default:
      return { state: 'gone' };
  }
}

/**
 * The instance named by `instance` ("projects/P/zones/Z/instances/I", set by init once the VM
 * exists). A SUSPENDED instance (crawl4ai-mcp never suspends; someone did in the console) is not
 * resumed: that needs compute.instances.resume, which the wake role leaves out, so the caller hears
 * it could not be started from here.
 */
export function gcpWakeTarget(cfg: { key: string; instance: string }, fetcher: typeof fetch = fetch): WakeTarget {
  if (!/^projects\/[^/]+\/zones\/[^/]+\/instances\/[^/]+$/.test(cfg.instance)) throw new Error('WAKE_GCP_INSTANCE is not projects/P/zones/Z/instances/I');
  const key = parseWakeKey(cfg.key);
  const url = `${COMPUTE}${cfg.instance}`;
  let lastStatus: string | undefined;
  const call = async (method: 'GET' | 'POST', path: string): Promise<unknown> => {
    const res = await fetcher(`${url}${path}`, { method, headers: { authorization: `Bearer ${await accessToken(key, fetcher)}` }, signal: AbortSignal.timeout(10_000) });
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string; errors?: Array<{ reason?: string }> } };
    if (res.status === 404 && method === 'GET') return undefined;
    if (!res.ok) throw new Error(`Compute instances.${method === 'GET' ? 'get' : path.slice(1)} failed: ${res.status} ${body.error?.errors?.[0]?.reason ?? ''} ${(body.error?.message ?? '').slice(0, 200)}`.trim());
    return body;
  };
  return {
    key: `gcp:${cfg.instance}`,
    label: `Compute Engine instance ${cfg.instance}`,
    async describe() {
      const inst = (await call('GET', '')) as { status?: string; lastStartTimestamp?: string; labels?: Record<string, string> } | undefined;
      lastStatus = inst?.status;
      return inst ? gcpPower(inst) : { state: 'gone' };
    },
    async start() {
      if (lastStatus === 'SUSPENDED') throw new Error('it is suspended, which `gcloud compute instances resume` undoes, not a start');
      await call('POST', '/start');
    },
  };
}

/**
 * Wake on request, Azure: the Worker's wake target and its OIDC issuer.
 *
 * The credential is a user-assigned managed identity whose only role ("crawl4ai-mcp wake": read a
 * VM, start it) is assigned at this deployment's VM. The Worker gets tokens for it by workload
 * identity federation: it signs a short RS256 JWT (iss = its own /wake-issuer, sub =
 * crawl4ai-mcp:wake:<deployment>, aud = api://AzureADTokenExchange) and trades it at Entra ID's
 * token endpoint (client_credentials with a jwt-bearer client assertion); Entra checks it against
 * the identity's federated identity credential and the public key it fetches from this Worker's
 * /wake-issuer/.well-known/openid-configuration -> jwks_uri. No Azure secret exists anywhere.
 * Plain fetch + WebCrypto: no Azure SDK in the bundle.
 */
import { importRsaSigningKey, signRs256Jwt } from './rs256-jwt.js';
import { HOLD_TAG } from '../model/deployment.js';
import { OriginUnreachableError } from '../mcp/origin.js';
import { WAKE_AUDIENCE, WAKE_ISSUER_PATH, WAKE_JWKS_PATH } from '../model/azure-wake.js';
import type { VmPower, WakeTarget } from './wake.js';

export interface AzureWakeEnv {
  WAKE_AZURE_SUBSCRIPTION?: string;
  WAKE_AZURE_RESOURCE_GROUP?: string;
  WAKE_AZURE_VM?: string;
  /** the federated identity credential's subject */
  WAKE_AZURE_SUBJECT?: string;
  WAKE_AZURE_TENANT?: string;
  /** the managed identity's client id */
  WAKE_AZURE_CLIENT_ID?: string;
  /** https://<this Worker>/wake-issuer, exactly as the federated identity credential names it */
  WAKE_AZURE_ISSUER?: string;
  /** the public JWK set the issuer serves (pinned by the installer, JSON) */
  WAKE_AZURE_JWKS?: string;
  /** the private key (PKCS#8 PEM) the Worker signs with; secret */
  WAKE_AZURE_SIGNING_KEY?: string;
}

const LOGIN = 'https://login.microsoftonline.com';
const ARM = 'https://management.azure.com';
const COMPUTE_API_VERSION = '2024-07-01';
/** assertions live 5 minutes: Entra refuses one outside its exp/nbf (AADSTS700024) */
const ASSERTION_SECONDS = 300;

interface Jwks {
  keys: Array<{ kid?: string; kty: string; n: string; e: string; alg?: string; use?: string }>;
}

function jwksOf(env: AzureWakeEnv): Jwks | undefined {
  try {
    const j = JSON.parse(env.WAKE_AZURE_JWKS ?? '') as Jwks;
    return Array.isArray(j.keys) && j.keys.length > 0 ? j : undefined;
  } catch {
    return undefined;
  }
}

/**
 * GET /wake-issuer/.well-known/openid-configuration and /wake-issuer/jwks: public by design (Entra
 * ID fetches them with no credential; they carry only the issuer URL and a public key). Undefined
 * for any other path, or when this Worker wakes no Azure VM.
 */
export function wakeIssuerRoute(request: Request, path: string, env: AzureWakeEnv): Response | undefined {
  if (!path.startsWith(`${WAKE_ISSUER_PATH}/`)) return undefined;
  const jwks = jwksOf(env);
  if (!env.WAKE_AZURE_ISSUER || !jwks) return undefined;
  const sub = path.slice(WAKE_ISSUER_PATH.length);
  if (sub !== '/.well-known/openid-configuration' && sub !== WAKE_JWKS_PATH) return undefined;
  if (request.method !== 'GET' && request.method !== 'HEAD') return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } });
  const body =
    sub === WAKE_JWKS_PATH
      ? { keys: jwks.keys.map(({ kid, kty, n, e }) => ({ kid, kty, n, e, alg: 'RS256', use: 'sig' })) }
      : {
          issuer: env.WAKE_AZURE_ISSUER,
          jwks_uri: `${env.WAKE_AZURE_ISSUER}${WAKE_JWKS_PATH}`,
          response_types_supported: ['id_token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
        };
  return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' } });
}

export interface AzureWakeConfig {
  tenant: string;
  clientId: string;
  subscription: string;
  resourceGroup: string;
  vm: string;
  issuer: string;
  subject: string;
  kid: string;
  /** PKCS#8 PEM */
  signingKey: string;
}

export function azureWakeConfig(env: AzureWakeEnv): AzureWakeConfig | undefined {
  const kid = jwksOf(env)?.keys[0]?.kid;
  const { WAKE_AZURE_TENANT: tenant, WAKE_AZURE_CLIENT_ID: clientId, WAKE_AZURE_SUBSCRIPTION: subscription, WAKE_AZURE_RESOURCE_GROUP: resourceGroup, WAKE_AZURE_VM: vm } = env;
  const { WAKE_AZURE_ISSUER: issuer, WAKE_AZURE_SUBJECT: subject, WAKE_AZURE_SIGNING_KEY: signingKey } = env;
  if (!tenant || !clientId || !subscription || !resourceGroup || !vm || !issuer || !subject || !signingKey || !kid) return undefined;
  return { tenant, clientId, subscription, resourceGroup, vm, issuer, subject, kid, signingKey };
}

/** The federated client assertion: a short RS256 JWT naming this Worker as issuer. */
export async function clientAssertion(cfg: AzureWakeConfig, key: CryptoKey, nowS = Math.floor(Date.now() / 1000)): Promise<string> {
  return signRs256Jwt(key, { kid: cfg.kid }, { iss: cfg.issuer, sub: cfg.subject, aud: WAKE_AUDIENCE, iat: nowS, nbf: nowS, exp: nowS + ASSERTION_SECONDS, jti: crypto.randomUUID() });
}

const credentialRefused = (code: string) =>
  new OriginUnreachableError(
    `your crawler is not answering, and Azure refused this Worker's wake credential (${code}), so it could not be started from here`,
    'the deployment owner can run `crawl4ai-mcp start` (and `crawl4ai-mcp init` again to renew the wake credential)',
  );

/**
 * The deployment's VM on Azure, read and started with a token of the wake identity (cached per
 * isolate until 5 minutes before it expires). A token Entra refuses (a key that does not match
 * the issuer's, a federated credential gone) is an OriginUnreachableError telling the caller that
 * the owner can start it: nothing was started.
 */
export function azureWakeTarget(cfg: AzureWakeConfig, fetcher: typeof fetch = fetch): WakeTarget {
  const vmUrl = `${ARM}/subscriptions/${cfg.subscription}/resourceGroups/${cfg.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${cfg.vm}`;
  let cached: { token: string; until: number } | undefined;
  let key: Promise<CryptoKey> | undefined;

  async function token(): Promise<string> {
    if (cached && Date.now() < cached.until) return cached.token;
    key ??= importRsaSigningKey(cfg.signingKey);
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: cfg.clientId,
      scope: `${ARM}/.default`,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(cfg, await key),
    });
    const res = await fetcher(`${LOGIN}/${cfg.tenant}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number | string; error?: string; error_description?: string };
    if (!res.ok || !body.access_token) {
      const code = /AADSTS\d+/.exec(body.error_description ?? '')?.[0] ?? body.error ?? `HTTP ${res.status}`;
      console.error(`wake: Entra ID refused the wake credential: ${(body.error_description ?? code).split('\n')[0]}`);
      throw credentialRefused(code);
    }
    cached = { token: body.access_token, until: Date.now() + Math.max(0, Number(body.expires_in ?? 0) - 300) * 1000 };
    return body.access_token;
  }

  async function arm(method: 'GET' | 'POST', url: string): Promise<Response> {
    const res = await fetcher(url, { method, headers: { authorization: `Bearer ${await token()}` }, signal: AbortSignal.timeout(10_000) });
    if (res.status === 401) cached = undefined; // expired or revoked: the next call asks Entra again
    return res;
  }
  const armError = async (res: Response, what: string) => {
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
    return new Error(`Azure ${what} failed: ${body.error?.code ?? `HTTP ${res.status}`}`);
  };

  return {
    key: `azure:${cfg.subscription}:${cfg.resourceGroup}:${cfg.vm}`,
    label: `Azure virtual machine ${cfg.vm} (resource group ${cfg.resourceGroup})`,
    async describe(): Promise<VmPower> {
      // $expand=instanceView: the power state, with nothing beyond virtualMachines/read
      const res = await arm('GET', `${vmUrl}?$expand=instanceView&api-version=${COMPUTE_API_VERSION}`);
      if (res.status === 404) return { state: 'gone' };
      if (!res.ok) throw await armError(res, 'GET virtual machine');
      const vm = (await res.json()) as { tags?: Record<string, string>; properties?: { instanceView?: { statuses?: Array<{ code?: string; time?: string }> } } };
      const power = powerOf(vm.properties?.instanceView?.statuses ?? []);
      return vm.tags?.[HOLD_TAG] !== undefined ? { ...power, held: true } : power;
    },
    async start() {
      const res = await arm('POST', `${vmUrl}/start?api-version=${COMPUTE_API_VERSION}`);
      if (!res.ok) throw await armError(res, 'start');
      await res.body?.cancel().catch(() => undefined);
    },
  };
}

/**
 * The instance view's PowerState: deallocated (stop, or the idle watchdog) and stopped (powered
 * off from inside, still allocated and billed) both need a start. `since` is when the last
 * operation finished (the ProvisioningState status's time), so a VM just started counts as booting.
 */
export function powerOf(statuses: Array<{ code?: string; time?: string }>): VmPower {
  const power = statuses.find((s) => s.code?.startsWith('PowerState/'))?.code?.slice('PowerState/'.length);
  const t = Date.parse(statuses.find((s) => s.code?.startsWith('ProvisioningState/'))?.time ?? '');
  const since = Number.isFinite(t) ? { since: t } : {};
  switch (power) {
    case 'running':
      return { state: 'running', ...since };
    case 'starting':
      return { state: 'pending', ...since };
    case 'stopping':
    case 'deallocating':
      return { state: 'stopping' };
    case 'stopped':
    case 'deallocated':
      return { state: 'stopped' };
    default:
      return { state: 'gone' };
  }
}

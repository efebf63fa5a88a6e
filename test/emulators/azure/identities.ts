/**
 * Microsoft.ManagedIdentity in the ARM emulator: user-assigned identities and their federated
 * identity credentials (api-version 2023-01-31 shapes), and Entra ID's token exchange for them
 * (client_credentials with a jwt-bearer client assertion from a trusted external issuer).
 *
 * Habits of the real services reproduced:
 *   - PUT identity answers 201 (200 when it exists, same ids) synchronously with properties
 *     {tenantId, principalId, clientId}; its service principal reaches the directory replica that
 *     role assignments read only after the replication delay (PrincipalNotFound before).
 *   - FIC names match ^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$; issuer, subject and audiences are
 *     required; at most 20 per identity; an issuer + subject pair is unique per identity; writes to
 *     one identity are not concurrent (409 ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity,
 *     `busyFederatedWrites`). FICs go with their identity.
 *   - The token exchange fetches `<iss>/.well-known/openid-configuration` and its jwks_uri (through
 *     a hook: in tests, the Worker in workerd), matches iss + sub + aud exactly against a FIC of the
 *     client_id's identity (AADSTS70021), checks the time range (AADSTS700024), the kid
 *     (AADSTS7000272) and the RS256 signature (AADSTS50013); a token it issues is the identity's,
 *     and ARM authorizes it by that identity's role assignments only.
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { ArmError, type ArmResource, type ArmState } from './model.js';
import type { ArmRequest, ArmResponse } from './arm.js';

export const IDENTITY_TYPE = 'Microsoft.ManagedIdentity/userAssignedIdentities';
export const MAX_FICS = 20;
const FIC_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$/;

export interface FederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface IdentityOptions {
  tenantId: string;
  now: () => number;
}

const json = (status: number, body?: unknown): ArmResponse => ({ status, body });

export function createIdentities(state: ArmState, opts: IdentityOptions) {
  /** the next n FIC writes find another writer on the identity */
  let busy = 0;
  const fics = new Map<string, FederatedCredential[]>(); // identity id (lower case) -> its FICs

  const view = (r: ArmResource) => ({ id: r.id, name: r.name, type: r.type, location: r.location, tags: r.tags, properties: { ...r.properties } });
  const ficView = (identity: ArmResource, f: FederatedCredential) => ({
    id: `${identity.id}/federatedIdentityCredentials/${f.name}`,
    name: f.name,
    type: `${IDENTITY_TYPE}/federatedIdentityCredentials`,
    properties: { issuer: f.issuer, subject: f.subject, audiences: [...f.audiences] },
  });

  function identity(req: ArmRequest, group: string, name: string): ArmResponse {
    const id = state.resourceId(group, IDENTITY_TYPE, name);
    const existing = state.get(id);
    if (req.method === 'GET') {
      if (!state.groupOf(group)) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
      if (!existing) throw new ArmError(404, 'ResourceNotFound', `The Resource '${IDENTITY_TYPE}/${name}' under resource group '${group}' was not found.`);
      return json(200, view(existing));
    }
    if (req.method === 'DELETE') {
      if (!state.groupOf(group)) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
      if (!existing) return json(204);
      state.delete(id);
      fics.delete(id.toLowerCase());
      // its service principal goes with it; role assignments naming it stay behind, orphaned
      state.principals.delete(existing.properties.principalId);
      return json(200);
    }
    if (req.method !== 'PUT') throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
    const g = state.groupOf(group);
    if (!g) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
    const location = String(req.body?.location ?? '').toLowerCase();
    if (!location) throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
    if (existing) {
      existing.tags = { ...(req.body?.tags ?? existing.tags) };
      return json(200, view(existing));
    }
    const principalId = randomUUID();
    state.principals.set(principalId, { createdAt: opts.now() });
    const r: ArmResource = { id, type: IDENTITY_TYPE, name, resourceGroup: g.name, location, tags: { ...(req.body?.tags ?? {}) }, properties: { tenantId: opts.tenantId, principalId, clientId: randomUUID() } };
    state.put(r);
    return json(201, view(r));
  }

  function federated(req: ArmRequest, group: string, name: string, fic?: string): ArmResponse {
    const identityId = state.resourceId(group, IDENTITY_TYPE, name);
    const owner = state.get(identityId);
    if (!owner) throw new ArmError(404, 'ResourceNotFound', `The Resource '${IDENTITY_TYPE}/${name}' under resource group '${group}' was not found.`);
    const list = fics.get(identityId.toLowerCase()) ?? [];
    if (!fic) {
      if (req.method !== 'GET') throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
      return json(200, { value: list.map((f) => ficView(owner, f)) });
    }
    const found = list.find((f) => f.name === fic);
    if (req.method === 'GET') {
      if (!found) throw new ArmError(404, 'NotFound', `Federated identity credential '${fic}' was not found.`);
      return json(200, ficView(owner, found));
    }
    if (busy > 0) {
      busy--;
      throw new ArmError(409, 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity', `Too many Federated Identity Credentials are written concurrently for the managed identity '${identityId.toLowerCase()}'. Concurrent Federated Identity Credentials writes under the same managed identity are not supported.`);
    }
    if (req.method === 'DELETE') {
      if (!found) return json(204);
      fics.set(identityId.toLowerCase(), list.filter((f) => f !== found));
      return json(200);
    }
    if (req.method !== 'PUT') throw new ArmError(405, 'MethodNotAllowed', `${req.method} not allowed`);
    if (!FIC_NAME.test(fic)) throw new ArmError(400, 'BadRequest', `The federated identity credential name '${fic}' is invalid: it must match ^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$.`);
    const p = req.body?.properties ?? {};
    if (typeof p.issuer !== 'string' || !p.issuer) throw new ArmError(400, 'BadRequest', "The 'issuer' property is required.");
    if (typeof p.subject !== 'string' || !p.subject) throw new ArmError(400, 'BadRequest', "The 'subject' property is required.");
    if (!Array.isArray(p.audiences) || p.audiences.length !== 1) throw new ArmError(400, 'BadRequest', "The 'audiences' property needs exactly one audience.");
    if (list.some((f) => f !== found && f.issuer === p.issuer && f.subject === p.subject)) throw new ArmError(400, 'BadRequest', 'Issuer and subject combination already exists for this Managed Identity.');
    if (!found && list.length >= MAX_FICS) throw new ArmError(400, 'BadRequest', `The managed identity already has the maximum of ${MAX_FICS} federated identity credentials.`);
    const next: FederatedCredential = { name: fic, issuer: p.issuer, subject: p.subject, audiences: [...p.audiences] };
    fics.set(identityId.toLowerCase(), [...list.filter((f) => f !== found), next]);
    return json(found ? 200 : 201, ficView(owner, next));
  }

  /** The identity whose clientId this is (the client_id of a token request), with its FICs. */
  function byClientId(clientId: string): { identity: ArmResource; fics: FederatedCredential[] } | undefined {
    const identity = state.ofType(IDENTITY_TYPE).find((r) => r.properties.clientId === clientId);
    return identity ? { identity, fics: fics.get(identity.id.toLowerCase()) ?? [] } : undefined;
  }

  return {
    identity,
    federated,
    byClientId,
    busyFederatedWrites(n: number) {
      busy = n;
    },
  };
}

export type Identities = ReturnType<typeof createIdentities>;

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

const aadError = (status: number, error: string, code: number, text: string): TokenAnswer => ({
  status,
  body: { error, error_description: `AADSTS${code}: ${text} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString().replace('T', ' ').slice(0, 19)}Z`, error_codes: [code], error_uri: `https://login.microsoftonline.com/error?code=${code}` },
});

function decodePart(s: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Entra ID's client_credentials grant with a federated client assertion, for a user-assigned
 * identity's client id. `fetchIssuer` GETs the issuer's discovery document and JWKS. Answers the
 * principalId the token stands for, or Entra's error.
 */
export async function exchangeAssertion(
  form: URLSearchParams,
  found: { identity: ArmResource; fics: FederatedCredential[] } | undefined,
  fetchIssuer: (url: string) => Promise<Response>,
  nowMs: number,
): Promise<{ principalId: string } | TokenAnswer> {
  const clientId = form.get('client_id') ?? '';
  if (!found) return aadError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory.`);
  const assertion = form.get('client_assertion') ?? '';
  const [h, p, s] = assertion.split('.');
  const header = h ? decodePart(h) : undefined;
  const claims = p ? decodePart(p) : undefined;
  if (!header || !claims || !s) return aadError(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
  const iss = String(claims.iss ?? '');
  const sub = String(claims.sub ?? '');
  const aud = Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud ?? '')];
  // case-sensitive, exact
  const fic = found.fics.find((f) => f.issuer === iss && f.subject === sub && f.audiences.some((a) => aud.includes(a)));
  if (!fic) {
    return aadError(400, 'invalid_request', 70021, `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${aud.join(',')}'.`);
  }
  const nowS = Math.floor(nowMs / 1000);
  const exp = Number(claims.exp);
  const nbf = claims.nbf === undefined ? Number(claims.iat ?? 0) : Number(claims.nbf);
  // a few minutes of clock skew are allowed
  if (!Number.isFinite(exp) || exp + 300 < nowS || nbf - 300 > nowS) {
    const at = (t: number) => (Number.isFinite(t) ? new Date(t * 1000).toISOString() : 'none');
    return aadError(400, 'invalid_client', 700024, `Client assertion is not within its valid time range. Current time: ${at(nowS)}, assertion valid from ${at(nbf)}, expiry time of assertion ${at(exp)}.`);
  }
  if (header.alg !== 'RS256') return aadError(400, 'invalid_request', 5002738, `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm.`);
  let jwks: { keys?: Array<Record<string, unknown>> };
  try {
    const config = await fetchIssuer(`${iss.replace(/\/+$/, '')}/.well-known/openid-configuration`);
    if (!config.ok) throw new Error(`openid-configuration: HTTP ${config.status}`);
    const doc = (await config.json()) as { issuer?: string; jwks_uri?: string };
    if (doc.issuer !== iss || !doc.jwks_uri) throw new Error('the discovery document names another issuer or no jwks_uri');
    const keys = await fetchIssuer(doc.jwks_uri);
    if (!keys.ok) throw new Error(`jwks: HTTP ${keys.status}`);
    jwks = (await keys.json()) as typeof jwks;
  } catch (e) {
    return aadError(400, 'invalid_request', 50166, `Request to External OIDC endpoint failed. (${e instanceof Error ? e.message : String(e)})`);
  }
  const jwk = (jwks.keys ?? []).find((k) => k.kid === header.kid);
  if (!jwk) {
    return aadError(401, 'invalid_client', 7000272, `The certificate with identifier ${String(header.kid)} used to sign the federated credential could not be found in the metadata of identity provider ${iss}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.`);
  }
  let ok = false;
  try {
    const key = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e } as import('node:crypto').JsonWebKey, format: 'jwk' });
    ok = verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
  } catch {
    ok = false;
  }
  if (!ok) return aadError(401, 'invalid_client', 50013, 'Assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]');
  return { principalId: String(found.identity.properties.principalId) };
}

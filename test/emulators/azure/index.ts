/**
 * A stateful loopback emulator of Azure Resource Manager and of the Entra ID token endpoint, over
 * https (the Azure SDK refuses bearer tokens over http), for the real @azure/arm-compute,
 * arm-network, arm-resources and @azure/identity pointed at it (ARM `endpoint`, identity
 * `authorityHost` + `disableInstanceDiscovery`).
 *
 * Wire habits of the real services: PUTs answer 201 (200 on update) with `Azure-AsyncOperation`,
 * deletes and VM actions answer 202 with `Location`; both carry `Retry-After`, and the operation
 * stays InProgress for `lroMs`. Errors are `{"error":{"code","message"}}`: 404 ResourceNotFound /
 * ResourceGroupNotFound, 403 AuthorizationFailed naming the action, 409 SkuNotAvailable (create with
 * a size without capacity), an LRO Failed with AllocationFailed (start), 400 NicInUse and friends
 * (deleting what is in use), 429 with Retry-After (throttleNext), 401 InvalidAuthenticationToken.
 * Lists page with nextLink ($skiptoken). A Linux VM needs a password or an SSH key; customData is
 * never returned; the implicit OS disk carries no tags and outlives its VM unless deleteOption is
 * Delete. Deleting a resource group deletes everything in it.
 *
 * Identity and RBAC: a VM with `identity: {type: SystemAssigned}` gets a service principal
 * (principalId) that role assignments cannot name for `principalReplicationMs` (400
 * PrincipalNotFound, Entra's replication delay). Microsoft.Authorization roleDefinitions and
 * roleAssignments answer PUT/GET/DELETE/list with ARM's shapes and errors (409
 * RoleDefinitionWithSameNameExists, 409 RoleAssignmentExists, 409 RoleDefinitionHasAssignments,
 * GUID names, assignable scopes); both outlive the VM and its group. `imdsFor(vmId)` is that VM's
 * Instance Metadata Service (Metadata: true required): its identity tokens are authorized by
 * ARM from the role assignments at the request's scope or above (403 AuthorizationFailed else).
 */
import { FaultInjector } from '../faults/injector.js';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseCondition, type ConditionInput } from './condition.js';
import { createArm, actionOf, type ArmFaults, type ArmRequest, type ArmResponse } from './arm.js';
import { ArmError, ArmState, TYPES, type ArmResource } from './model.js';
import { makeTestCertificate } from './tls.js';
import { createIdentities, exchangeAssertion } from './identities.js';

export { ArmState, TYPES, type ArmResource } from './model.js';

export const DEPLOYMENT_TAG = 'crawl4ai-mcp:deployment';

export interface AzureEmulatorOptions {
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  subscriptionId?: string;
  /** how long each long-running operation stays InProgress; default 50 ms */
  lroMs?: number;
  /** Retry-After seconds on LRO answers; default 0 (real ARM: 10-60) */
  retryAfterSeconds?: number;
  /** list page size before nextLink; default 2, so every list pages */
  pageSize?: number;
  /** how long a new VM identity's service principal is unknown to role assignments (PrincipalNotFound); default 300 ms */
  principalReplicationMs?: number;
  /** how Entra ID GETs a federated issuer's discovery document and JWKS; default fetch() */
  fetchIssuer?: (url: string) => Promise<Response>;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  /** the ARM action the request needed (what RBAC checks), for ARM requests */
  action?: string;
  status?: number;
  error?: string;
  /** the managed identity that made the call (a token from IMDS, or one Entra issued for a federated assertion) */
  principal?: string;
}

export interface AzureEmulator {
  /** https://127.0.0.1:PORT (ARM and the Entra authority host) */
  url: string;
  /** the PEM a child process trusts through NODE_EXTRA_CA_CERTS */
  caFile: string;
  caPem: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  subscriptionId: string;
  /** the object id of the installer's service principal (clientId's); known to the directory */
  installerPrincipalId: string;
  state: ArmState;
  requests: RequestLogEntry[];
  /** fault injection on calls named "METHOD /subscriptions/…path": `injector.failCall(/^PUT .*virtualMachines/, 1, '5xx')` */
  injector: FaultInjector;
  /** live resources (and resource groups) tagged crawl4ai-mcp:deployment=<name> */
  resourcesOf(deployment: string): Array<{ type: string; id: string; state?: string; tags: Record<string, string> }>;
  /** a bearer token ARM accepts, as `az account get-access-token` would hand a logged-in user */
  issueToken(): string;
  /** the next n ARM requests answer 429 TooManyRequests with Retry-After: 1 */
  throttleNext(n: number): void;
  /** these ARM actions answer 403 AuthorizationFailed and are absent from Microsoft.Authorization/permissions; replaces the list */
  denyActions(actions: string[]): void;
  /**
   * The installer's role assignment carries this ABAC condition (conditionVersion 2.0), checked on
   * its role assignment writes and deletes (403 AuthorizationFailed when false); undefined removes
   * it. Throws on a condition the emulator cannot parse.
   */
  constrainRoleAssignments(condition: string | undefined): void;
  /**
   * The installer holds actions matching these patterns only at or under `scope` (a role assigned on
   * one resource group, not the subscription): 403 AuthorizationFailed elsewhere, and absent from
   * the subscription's Microsoft.Authorization/permissions. Replaces the list; [] removes it.
   */
  grantOnlyUnder(patterns: string[], scope: string): void;
  /** VM sizes without capacity (create: 409 SkuNotAvailable; start: AllocationFailed); replaces the list */
  noCapacity(sizes: string[]): void;
  /** creating a VM of these sizes is accepted, then its operation fails with AllocationFailed (the VM stays, Failed); replaces the list */
  allocationFailsOnCreate(sizes: string[]): void;
  /** Microsoft.Network offers no virtual networks in these locations to the subscription */
  noNetworkIn(locations: string[]): void;
  /** the VM with this vmId writes `text` to its serial console (the boot diagnostics serial log blob) */
  writeSerial(vmId: string, text: string): void;
  /**
   * The Instance Metadata Service as the VM with this ARM id sees it (http://169.254.169.254 there):
   * an http base URL on loopback serving /metadata/identity/oauth2/token (a token of the VM's own
   * managed identity, which ARM then authorizes by its role assignments) and
   * /metadata/instance/compute/{resourceId,userData}. One server per VM, as IMDS answers per VM.
   */
  imdsFor(vmResourceId: string): Promise<string>;
  /** the next n federated identity credential writes answer 409 ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity (another writer on the identity) */
  busyFederatedWrites(n: number): void;
  /** replaces how Entra ID fetches a federated issuer's documents */
  setIssuerFetch(fetchIssuer: (url: string) => Promise<Response>): void;
  close(): Promise<void>;
}

export async function startAzureEmulator(opts: AzureEmulatorOptions = {}): Promise<AzureEmulator> {
  const tenantId = opts.tenantId ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const clientId = opts.clientId ?? '11111111-2222-3333-4444-555555555555';
  const clientSecret = opts.clientSecret ?? 'emu~client~secret~value';
  const subscriptionId = opts.subscriptionId ?? '00000000-1111-2222-3333-444444444444';
  const principalId = randomUUID();
  const cert = makeTestCertificate();
  const state = new ArmState(subscriptionId);
  state.principals.set(principalId, { createdAt: 0 });
  const faults: ArmFaults = { denied: new Set(), noCapacity: new Set(), allocationFails: new Set(), noNetworkIn: new Set() };
  const tokens = new Set<string>();
  /** tokens IMDS issued to a VM's managed identity: token -> principalId */
  const identityTokens = new Map<string, string>();
  const imdsServers: http.Server[] = [];
  const requests: RequestLogEntry[] = [];
  const throttle = { remaining: 0 };
  const injector = new FaultInjector();
  const identities = createIdentities(state, { tenantId, now: () => Date.now() });
  let fetchIssuer = opts.fetchIssuer ?? ((u: string) => fetch(u, { signal: AbortSignal.timeout(10_000) }));
  let url = '';
  const arm = createArm(state, faults, {
    baseUrl: () => url,
    lroMs: opts.lroMs ?? 50,
    retryAfterSeconds: opts.retryAfterSeconds ?? 0,
    pageSize: opts.pageSize ?? 2,
    principalId,
    tenantId,
    principalReplicationMs: opts.principalReplicationMs ?? 300,
    blobSas: (path, expires) => {
      const se = expires.toISOString().replace(/\.\d{3}Z$/, 'Z');
      return `${url}${path}?sv=2022-11-02&se=${encodeURIComponent(se)}&sr=b&sp=r&sig=${encodeURIComponent(sasSignature(path, se))}`;
    },
  });
  // the storage account's key signing boot diagnostics SAS URLs
  const storageKey = randomBytes(32);
  const sasSignature = (path: string, se: string) => createHmac('sha256', storageKey).update(`r\n${se}\n${path}`).digest('base64');
  const storageError = (status: number, code: string, message: string) => ({
    status,
    xml: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message></Error>`,
    code,
  });
  /** GET of a boot diagnostics blob with its SAS (Azure Storage's habits: XML errors, 403 for a bad or expired signature, 404 before the VM wrote any). */
  function bootDiagnosticsBlob(u: URL): { status: number; body?: string; xml?: string; code?: string } | undefined {
    const m = /^\/bootdiagnostics-[a-z0-9-]*?-([0-9a-f-]{36})\/[^/]+\.\1\.(serialconsole\.log|screenshot\.bmp)$/i.exec(u.pathname);
    if (!m) return undefined;
    const se = u.searchParams.get('se') ?? '';
    const sig = u.searchParams.get('sig') ?? '';
    const want = sasSignature(u.pathname, se);
    if (sig.length !== want.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(want)) || u.searchParams.get('sp') !== 'r') {
      return storageError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.');
    }
    if (!(Date.parse(se) > Date.now())) return storageError(403, 'AuthenticationFailed', 'Signature not valid in the specified time frame');
    const vm = state.ofType(TYPES.vm).find((r) => r.properties.vmId === m[1]);
    const log = m[2] === 'serialconsole.log' ? vm?.vm?.serialLog : undefined;
    if (log === undefined) return storageError(404, 'BlobNotFound', 'The specified blob does not exist.');
    return { status: 200, body: log };
  }

  async function entra(req: ArmRequest, form: URLSearchParams): Promise<ArmResponse | undefined> {
    const m = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)$/.exec(req.path);
    if (!m) return undefined;
    const [, tenant, what] = m;
    if (tenant !== tenantId) return { status: 400, body: { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant}' not found.` } };
    if (what!.startsWith('v2.0')) {
      const base = `${url}/${tenantId}`;
      return {
        status: 200,
        body: {
          token_endpoint: `${base}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`,
          device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
          issuer: `${base}/v2.0`,
          jwks_uri: `${base}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'id_token', 'token'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        },
      };
    }
    if (form.get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'AADSTS70003: unsupported grant type' } };
    if (form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      // workload identity federation: a user-assigned identity's client id and an external issuer's token
      if (!/^https:\/\/management\.azure\.com\/\.default$/.test(form.get('scope') ?? '')) return { status: 400, body: { error: 'invalid_scope', error_description: `AADSTS70011: The provided value for scope ${form.get('scope')} is not valid.` } };
      const r = await exchangeAssertion(form, identities.byClientId(form.get('client_id') ?? ''), fetchIssuer, Date.now());
      if (!('principalId' in r)) return r;
      const token = `emu.wi.${randomUUID()}`;
      identityTokens.set(token, r.principalId);
      return { status: 200, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
    }
    if (form.get('client_id') !== clientId) {
      return { status: 400, body: { error: 'unauthorized_client', error_description: `AADSTS700016: Application with identifier '${form.get('client_id')}' was not found in the directory.`, error_codes: [700016] } };
    }
    if (form.get('client_secret') !== clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`, error_codes: [7000215] } };
    }
    if (!/management\.azure\.com\/\.default/.test(form.get('scope') ?? '')) return { status: 400, body: { error: 'invalid_scope', error_description: `AADSTS70011: The provided value for scope ${form.get('scope')} is not valid.` } };
    const token = `emu.${randomUUID()}`;
    tokens.add(token);
    return { status: 200, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
  }

  /** the managed identity (principalId) the request in hand came with; undefined for the installer's service principal */
  let identity: string | undefined;
  let assignmentCondition: ((input: ConditionInput) => boolean) | undefined;
  function route(req: ArmRequest, caller?: string): ArmResponse {
    identity = caller;
    const p = req.path;
    const subs = `/subscriptions/${subscriptionId}`;
    let m: RegExpExecArray | null;
    if (!p.toLowerCase().startsWith(subs.toLowerCase())) {
      if (/^\/subscriptions\/[^/]+/i.test(p)) throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${p.split('/')[2]}' could not be found.`);
      throw new ArmError(404, 'NotFound', `no route for ${req.method} ${p}`);
    }
    const rest = p.slice(subs.length);
    if (!req.query.get('api-version')) throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    if ((m = /^\/providers\/Microsoft\.Emulator\/locations\/[^/]+\/(operations|operationResults)\/([^/]+)$/i.exec(rest))) {
      return arm.operationStatus(m[2]!, m[1] as 'operations' | 'operationResults');
    }
    if (/^\/providers\/Microsoft\.Authorization\/permissions$/i.test(rest)) {
      check('GET', 'Microsoft.Authorization/permissions/read', subs);
      return arm.permissions(req);
    }
    if ((m = /^(.*?)\/providers\/Microsoft\.Authorization\/(roleDefinitions|roleAssignments)(?:\/([^/]+))?$/i.exec(rest))) {
      const [, under, what, name] = m;
      const scope = `${subs}${under}`;
      const kind = what!.toLowerCase() === 'roledefinitions' ? 'roleDefinitions' : 'roleAssignments';
      check(req.method, actionOf(req.method, `Microsoft.Authorization/${kind}`), scope);
      if (kind === 'roleAssignments' && name && identity === undefined && assignmentCondition) checkCondition(req, scope, name);
      return kind === 'roleDefinitions' ? arm.roleDefinitions(req, scope, name) : arm.roleAssignments(req, scope, name);
    }
    if ((m = /^\/providers\/Microsoft\.Compute\/locations\/([^/]+)\/publishers\/([^/]+)\/artifacttypes\/vmimage\/offers\/([^/]+)\/skus\/([^/]+)\/versions(?:\/([^/]+))?$/i.exec(rest))) {
      check('GET', 'Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read', subs);
      return arm.imageVersions(req, m[1]!, m[2]!, m[3]!, m[4]!, m[5]);
    }
    if ((m = /^\/providers\/([^/]+)$/i.exec(rest))) {
      check('GET', 'Microsoft.Resources/subscriptions/providers/read', subs);
      return arm.provider(m[1]!);
    }
    if (/^\/resources$/i.test(rest)) {
      check('GET', 'Microsoft.Resources/subscriptions/resources/read', subs);
      return arm.listResources(req);
    }
    if (/^\/resourcegroups$/i.test(rest)) {
      check('GET', 'Microsoft.Resources/subscriptions/resourceGroups/read', subs);
      return arm.resourceGroups(req);
    }
    if ((m = /^\/resourcegroups\/([^/]+)$/i.exec(rest))) {
      check(req.method, actionOf(req.method, 'Microsoft.Resources/subscriptions/resourceGroups'), p);
      return arm.resourceGroups(req, m[1]!);
    }
    if ((m = /^\/resourcegroups\/([^/]+)\/resources$/i.exec(rest))) {
      check('GET', 'Microsoft.Resources/subscriptions/resourceGroups/resources/read', p);
      return arm.listResources(req, m[1]!);
    }
    if ((m = /^\/resourcegroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([^/]+)(\/federatedIdentityCredentials(?:\/([^/]+))?)?$/i.exec(rest))) {
      const [, group, name, ficPart, fic] = m;
      check(req.method, actionOf(req.method, ficPart ? `${TYPES.identity}/federatedIdentityCredentials` : TYPES.identity), p);
      return ficPart ? identities.federated(req, group!, name!, fic) : identities.identity(req, group!, name!);
    }
    if ((m = /^\/resourcegroups\/([^/]+)\/providers\/(Microsoft\.(?:Network|Compute))\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/i.exec(rest))) {
      const [, group, ns, typeName, name, action] = m;
      const type = canonicalType(`${ns}/${typeName}`);
      check(req.method, action && action !== 'instanceView' ? actionOf(req.method, type, action) : actionOf(req.method, type), p);
      return arm.resource(req, group!, type, name!, action);
    }
    throw new ArmError(404, 'NotFound', `no route for ${req.method} ${p}`);
  }

  function canonicalType(t: string): string {
    const known = Object.values(TYPES).find((k) => k.toLowerCase() === t.toLowerCase());
    if (!known) throw new ArmError(400, 'InvalidResourceType', `The resource type '${t}' could not be found.`);
    return known;
  }

  /** The installer's ABAC condition, for a role assignment PUT (@Request: the body) or DELETE (@Resource: the assignment there). */
  function checkCondition(req: ArmRequest, scope: string, name: string): void {
    const action = actionOf(req.method, 'Microsoft.Authorization/roleAssignments');
    const input: ConditionInput = { action };
    if (req.method === 'PUT') {
      const p = req.body?.properties ?? {};
      input.request = { RoleDefinitionId: p.roleDefinitionId, PrincipalType: p.principalType };
    } else if (req.method === 'DELETE') {
      const a = state.roleAssignments.get(name.toLowerCase());
      if (!a) return; // nothing there: 204 either way
      input.resource = { RoleDefinitionId: a.roleDefinitionName, PrincipalType: a.principalType };
    } else return;
    if (!assignmentCondition!(input)) throw arm.authorizationFailed(action, scope);
  }

  function check(_method: string, action: string, scope: string): void {
    const entry = requests.at(-1);
    if (entry) entry.action = action;
    if (identity !== undefined) {
      // a managed identity holds only what its role assignments grant, at their scopes
      if (entry) entry.principal = identity;
      if (!arm.allowedFor(identity, action, scope)) throw arm.authorizationFailed(action, scope, identity);
      return;
    }
    if (!arm.allowed(action, scope)) throw arm.authorizationFailed(action, scope);
  }

  const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const u = new URL(req.url ?? '/', 'https://127.0.0.1');
      const raw = Buffer.concat(chunks).toString('utf8');
      const entry: RequestLogEntry = { method: req.method ?? 'GET', path: u.pathname };
      requests.push(entry);
      const send = (r: ArmResponse) => {
        entry.status = r.status;
        const err = (r.body as { error?: unknown } | undefined)?.error;
        if (err) entry.error = typeof err === 'string' ? err : String((err as { code?: unknown }).code);
        const headers: Record<string, string> = { 'x-ms-request-id': randomUUID(), 'x-ms-correlation-request-id': randomUUID(), ...(r.headers ?? {}) };
        if (r.body === undefined) {
          res.writeHead(r.status, headers).end();
        } else {
          res.writeHead(r.status, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(r.body));
        }
      };
      try {
        const isForm = (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');
        const areq: ArmRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, body: undefined };
        const idp = await entra(areq, new URLSearchParams(isForm ? raw : ''));
        if (idp) return send(idp);
        const blob = req.method === 'GET' ? bootDiagnosticsBlob(u) : undefined;
        if (blob) {
          entry.status = blob.status;
          if (blob.code) entry.error = blob.code;
          const headers = { 'x-ms-request-id': randomUUID(), 'x-ms-version': '2022-11-02', ...(blob.code ? { 'x-ms-error-code': blob.code } : {}) };
          if (blob.xml) return void res.writeHead(blob.status, { ...headers, 'content-type': 'application/xml' }).end(blob.xml);
          return void res.writeHead(200, { ...headers, 'content-type': 'text/plain', 'x-ms-blob-type': 'AppendBlob' }).end(blob.body);
        }
        const auth = req.headers.authorization ?? '';
        const token = /^Bearer (.+)$/.exec(auth)?.[1];
        const caller = token ? identityTokens.get(token) : undefined;
        if (!token || (!tokens.has(token) && !caller)) {
          return send({ status: 401, body: { error: { code: token ? 'InvalidAuthenticationToken' : 'AuthenticationFailed', message: token ? 'The access token is invalid.' : "Authentication failed. The 'Authorization' header is missing." } } });
        }
        const fault = injector.take(`${req.method ?? 'GET'} ${u.pathname}`);
        if (fault === 'hang') {
          setTimeout(() => res.destroy(), injector.hangMs);
          return;
        }
        if (fault === '5xx') return send({ status: 500, body: { error: { code: 'InternalServerError', message: 'Encountered internal server error. Diagnostic information: timestamp, subscription id, tracking id, request correlation id.' } } });
        if (fault === 'throttle') throttle.remaining = Math.max(throttle.remaining, 1);
        if (fault === 'lost') {
          // the call takes effect, its answer never arrives
          try {
            if (raw) areq.body = JSON.parse(raw);
            route(areq, caller);
          } catch {
            /* a refused call took no effect either */
          }
          res.destroy();
          return;
        }
        if (throttle.remaining > 0) {
          throttle.remaining--;
          return send({ status: 429, body: { error: { code: 'TooManyRequests', message: 'The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:01:00.' } }, headers: { 'Retry-After': '1' } });
        }
        if (raw) {
          try {
            areq.body = JSON.parse(raw);
          } catch {
            return send({ status: 400, body: { error: { code: 'InvalidRequestContent', message: 'The request content was invalid and could not be deserialized.' } } });
          }
        }
        send(route(areq, caller));
      } catch (e) {
        if (e instanceof ArmError) return send({ status: e.status, body: { error: { code: e.code, message: e.message } } });
        send({ status: 500, body: { error: { code: 'InternalServerError', message: String((e as Error)?.stack ?? e) } } });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const vmState = (r: ArmResource) => r.vm?.powerState;
  return {
    url,
    caFile: cert.certFile,
    caPem: cert.cert,
    tenantId,
    clientId,
    clientSecret,
    subscriptionId,
    installerPrincipalId: principalId,
    state,
    requests,
    injector,
    resourcesOf(deployment) {
      state.tick(Date.now());
      const groups = [...state.groups.values()]
        .filter((g) => g.tags[DEPLOYMENT_TAG] === deployment)
        .map((g) => ({ type: 'resource-group', id: g.id, state: g.provisioningState, tags: { ...g.tags } }));
      const inGroups = new Set(groups.map((g) => g.id.toLowerCase()));
      const resources = [...state.resources.values()]
        .filter((r) => r.tags[DEPLOYMENT_TAG] === deployment || inGroups.has(`/subscriptions/${subscriptionId}/resourcegroups/${r.resourceGroup}`.toLowerCase()))
        .map((r) => ({ type: r.type, id: r.id, ...(vmState(r) ? { state: vmState(r) } : {}), tags: { ...r.tags } }));
      return [...groups, ...resources];
    },
    issueToken() {
      const token = `emu.${randomUUID()}`;
      tokens.add(token);
      return token;
    },
    throttleNext(n) {
      throttle.remaining = n;
    },
    constrainRoleAssignments(condition) {
      assignmentCondition = condition === undefined ? undefined : parseCondition(condition);
    },
    denyActions(actions) {
      faults.denied = new Set(actions);
    },
    grantOnlyUnder(patterns, scope) {
      faults.scoped = patterns.map((pattern) => ({ pattern, scope }));
    },
    noCapacity(sizes) {
      faults.noCapacity = new Set(sizes);
    },
    allocationFailsOnCreate(sizes) {
      faults.allocationFails = new Set(sizes);
    },
    writeSerial(vmId, text) {
      const vm = state.ofType(TYPES.vm).find((r) => r.properties.vmId === vmId);
      if (!vm?.vm) throw new Error(`writeSerial: no VM ${vmId}`);
      vm.vm.serialLog = (vm.vm.serialLog ?? '') + text;
    },
    busyFederatedWrites(n) {
      identities.busyFederatedWrites(n);
    },
    setIssuerFetch(f) {
      fetchIssuer = f;
    },
    noNetworkIn(locations) {
      faults.noNetworkIn = new Set(locations.map((l) => l.toLowerCase()));
    },
    async imdsFor(vmResourceId) {
      const server = http.createServer((req, res) => {
        const u = new URL(req.url ?? '/', 'http://169.254.169.254');
        const send = (status: number, body: unknown, type = 'application/json; charset=utf-8') =>
          void res.writeHead(status, { 'content-type': type }).end(typeof body === 'string' ? body : JSON.stringify(body));
        // IMDS refuses requests without this header (and any that came through a proxy)
        if (req.headers.metadata !== 'true' || req.headers['x-forwarded-for']) {
          return send(400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
        }
        if (!u.searchParams.get('api-version')) return send(400, { error: 'Bad request. api-version was not specified in the request.' });
        const vm = state.get(vmResourceId);
        if (!vm) return void res.destroy(); // no VM, no IMDS
        if (u.pathname === '/metadata/identity/oauth2/token') {
          const resource = u.searchParams.get('resource') ?? '';
          if (!vm.identity) return send(400, { error: 'invalid_request', error_description: 'Identity not found' });
          if (!/^https:\/\/management\.(core\.windows\.net|azure\.com)\/?$/.test(resource)) {
            return send(400, { error: 'invalid_resource', error_description: `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${tenantId}.` });
          }
          const token = `emu.mi.${randomUUID()}`;
          identityTokens.set(token, vm.identity.principalId);
          const nowS = Math.floor(Date.now() / 1000);
          // IMDS gives the numbers as strings
          return send(200, { access_token: token, client_id: randomUUID(), expires_in: '86399', expires_on: String(nowS + 86399), ext_expires_in: '86399', not_before: String(nowS), resource, token_type: 'Bearer' });
        }
        const text = u.searchParams.get('format') === 'text';
        if (u.pathname === '/metadata/instance/compute/resourceId') return text ? send(200, vm.id, 'text/plain') : send(200, JSON.stringify(vm.id));
        if (u.pathname === '/metadata/instance/compute/userData') return send(200, vm.properties.userData ?? '', 'text/plain');
        send(404, { error: 'Not found' });
      });
      imdsServers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async close() {
      for (const s of imdsServers) {
        s.closeAllConnections();
        s.close();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(cert.dir, { recursive: true, force: true });
    },
  };
}

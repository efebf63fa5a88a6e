import { CliError, credentialsError } from '../ground/errors.js';
import { retry } from '../ground/wait.js';
import type { NetworkMode } from '../model/deployment.js';
import { registerSecret } from '../ground/redact.js';
import type { Journal, ResourceRecord } from '../state/index.js';
import { CloudflareApiError, isCloudflareApiError, isCloudflareNotFound, type CloudflareApi } from './api.js';
import { cloudflarePermissionsFor, permissionLabel } from './permissions.js';

/**
 * Tunnel mode, Cloudflare side (reference/tunnel-mode.md): a remotely-managed Cloudflare Tunnel
 * named after the deployment, its connector token, and a Workers VPC service pinned to
 * 127.0.0.1:11235 on that tunnel, which the Worker binds as `vpc_services`.
 *
 * Every create is journaled (intent before the call, id after it) and every ensure* is safe to
 * run again: a journaled resource is reused, and before creating, an existing one with our name is
 * adopted (a run that crashed between the create call and the journal write). destroy deletes in
 * the order the API needs (VPC service, tunnel connections, tunnel) and finds everything by name
 * when the state file is gone. The connector token is a secret: it is registered for redaction
 * the moment it arrives and returned to the caller only (never journaled).
 */

export const TUNNEL_JOURNAL_KEY = 'cloudflare:tunnel';
export const VPC_SERVICE_JOURNAL_KEY = 'cloudflare:vpc-service';
/** where Crawl4AI listens on the VM (published on loopback only) */
export const CRAWL4AI_VM_PORT = 11235;
export const CRAWL4AI_VM_ADDRESS = '127.0.0.1';

/** Error code of "Cannot delete tunnel because it has active connections" (nport#16). */
const ACTIVE_CONNECTIONS_CODE = 1022;

export type TunnelStatus = 'inactive' | 'healthy' | 'degraded' | 'down' | 'missing';
const API_STATUSES: ReadonlySet<string> = new Set(['inactive', 'healthy', 'degraded', 'down']);

/** The tunnel object of the cfd_tunnel API (the fields we read). */
export interface CfdTunnel {
  id: string;
  name: string;
  status?: string;
  created_at?: string;
  deleted_at?: string | null;
  /** only in the create answer: a secret */
  token?: string;
  /** only in the create answer: holds the tunnel secret */
  credentials_file?: { TunnelSecret?: string };
}

/** One connector (a running cloudflared) of GET …/cfd_tunnel/{id}/connections. */
export interface TunnelClient {
  id: string;
  version?: string;
  arch?: string;
  run_at?: string;
  conns?: Array<{ colo_name?: string; id?: string; is_pending_reconnect?: boolean; opened_at?: string }>;
}

export interface VpcServiceObject {
  service_id: string;
  name: string;
  type: string;
  http_port?: number;
  https_port?: number;
  tcp_port?: number;
  host?: {
    ipv4?: string;
    ipv6?: string;
    hostname?: string;
    network?: { tunnel_id?: string };
    resolver_network?: { tunnel_id?: string };
  };
}

export interface VpcServiceBody {
  name: string;
  type: 'http';
  host: { ipv4: string; network: { tunnel_id: string } };
  http_port: number;
}

export interface TunnelOptions {
  log?: (line: string) => void;
}

/** `crawl4ai-mcp-<deployment>`: the name of the deployment's tunnel and of its VPC service. */
export function tunnelResourceName(deployment: string): string {
  return `crawl4ai-mcp-${deployment}`;
}

/** The VPC service body, exactly as `wrangler vpc service create … --type http --ipv4 127.0.0.1 --http-port 11235` sends it. */
export function vpcServiceBody(name: string, tunnelId: string): VpcServiceBody {
  return { name, type: 'http', host: { ipv4: CRAWL4AI_VM_ADDRESS, network: { tunnel_id: tunnelId } }, http_port: CRAWL4AI_VM_PORT };
}

const tunnelsPath = '/accounts/{account_id}/cfd_tunnel';
const tunnelPath = (id: string) => `${tunnelsPath}/${encodeURIComponent(id)}`;
const servicesPath = '/accounts/{account_id}/connectivity/directory/services';
const servicePath = (id: string) => `${servicesPath}/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------------------------------------
// lookups

/** The tunnel, or undefined when the API says 404. A deleted tunnel is returned with deleted_at set. */
export async function getTunnel(api: CloudflareApi, tunnelId: string): Promise<CfdTunnel | undefined> {
  try {
    return await api.get<CfdTunnel>(tunnelPath(tunnelId));
  } catch (e) {
    if (isCloudflareNotFound(e)) return undefined;
    throw e;
  }
}

/** Non-deleted tunnels with exactly this name, oldest first (`?name=…&is_deleted=false`, every page). */
export async function findTunnelsByName(api: CloudflareApi, name: string): Promise<CfdTunnel[]> {
  const found = await api.list<CfdTunnel>(tunnelsPath, { name, is_deleted: false });
  return found.filter((t) => t.name === name && !t.deleted_at).sort(byCreatedAt);
}

export async function getVpcService(api: CloudflareApi, serviceId: string): Promise<VpcServiceObject | undefined> {
  try {
    return await api.get<VpcServiceObject>(servicePath(serviceId));
  } catch (e) {
    if (isCloudflareNotFound(e)) return undefined;
    throw e;
  }
}

/** Every VPC service with exactly this name (the list has no name filter: all pages, filtered here). */
export async function findVpcServicesByName(api: CloudflareApi, name: string): Promise<VpcServiceObject[]> {
  return (await api.list<VpcServiceObject>(servicesPath)).filter((s) => s.name === name);
}

function byCreatedAt(a: { created_at?: string }, b: { created_at?: string }): number {
  return (a.created_at ?? '').localeCompare(b.created_at ?? '');
}

function tunnelOfService(s: VpcServiceObject): string | undefined {
  return s.host?.network?.tunnel_id ?? s.host?.resolver_network?.tunnel_id;
}

/** Registers the connector token, and the tunnel secret inside it, for redaction. */
function registerTunnelToken(token: string | undefined): void {
  if (!token) return;
  registerSecret(token);
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { s?: unknown };
    if (typeof decoded.s === 'string') registerSecret(decoded.s);
  } catch {
    // not the documented base64 JSON {a,t,s}: the token itself is registered, which is what matters
  }
}

/** GET …/cfd_tunnel/{id}/token: the connector token (a string; a secret). */
export async function fetchTunnelToken(api: CloudflareApi, tunnelId: string): Promise<string> {
  const token = await api.get<unknown>(`${tunnelPath(tunnelId)}/token`);
  if (typeof token !== 'string' || token === '') {
    throw new CliError(`Cloudflare answered GET cfd_tunnel/${tunnelId}/token without a token`, {
      hint: 'run the command again; if it persists, check CLOUDFLARE_API_BASE_URL points at the Cloudflare API',
    });
  }
  registerTunnelToken(token);
  return token;
}

// ---------------------------------------------------------------------------------------------
// create / resume

const isTransient = (e: unknown): boolean => isCloudflareApiError(e) && (e.status === 0 || e.status >= 500);
/** GETs are already retried inside the client; only a failed create is worth another lookup-then-create round */
const isFailedPost = (e: unknown): boolean => isCloudflareApiError(e) && e.method === 'POST';
const isNameTaken = (e: unknown): boolean =>
  isCloudflareApiError(e) && (e.status === 409 || /already (exists|in use)|name.*taken/i.test(e.apiMessage));

/** Records phase 'created'/'deleting' with an id: the resource we may already own. */
function ownedId(rec: ResourceRecord | undefined): string | undefined {
  return rec && rec.id && (rec.phase === 'created' || rec.phase === 'deleting') ? rec.id : undefined;
}

/**
 * The deployment's tunnel (`crawl4ai-mcp-<deployment>`, remotely managed) and its connector
 * token. Reuses the journaled tunnel; else adopts a non-deleted tunnel of that name; else creates
 * one. The token is registered for redaction; the caller keeps it in the secret store and the
 * VM's user-data only.
 */
export async function ensureTunnel(
  api: CloudflareApi,
  journal: Journal,
  deployment: string,
  opts: TunnelOptions = {},
): Promise<{ tunnelId: string; token: string }> {
  const log = opts.log ?? (() => {});
  const name = tunnelResourceName(deployment);
  const rec = journal.find(TUNNEL_JOURNAL_KEY);
  const journaledId = ownedId(rec);
  if (journaledId) {
    const t = await getTunnel(api, journaledId);
    if (t && !t.deleted_at) {
      if (rec!.phase !== 'created') await journal.created(TUNNEL_JOURNAL_KEY, t.id, { name: t.name });
      log(`reusing Cloudflare Tunnel ${t.name} (${t.id})`);
      return { tunnelId: t.id, token: await fetchTunnelToken(api, t.id) };
    }
    log(`Cloudflare Tunnel ${journaledId} no longer exists; creating a new one`);
    await journal.deleted(TUNNEL_JOURNAL_KEY);
  } else if (rec?.phase === 'deleting') {
    await journal.deleted(TUNNEL_JOURNAL_KEY);
  }

  await journal.intend(TUNNEL_JOURNAL_KEY, 'cloudflare:tunnel', { meta: { name } });
  const tunnel = await retry(
    async () => {
      const [existing] = await findTunnelsByName(api, name);
      if (existing) {
        log(`adopting existing Cloudflare Tunnel ${name} (${existing.id})`);
        return existing;
      }
      log(`creating Cloudflare Tunnel ${name}`);
      const created = await api.post<CfdTunnel>(tunnelsPath, { name, config_src: 'cloudflare' });
      registerTunnelToken(created.token);
      registerSecret(created.credentials_file?.TunnelSecret);
      if (!created?.id) throw new CliError(`Cloudflare created tunnel ${name} but answered without its id`, { hint: 'run the command again: it adopts the tunnel by name' });
      return created;
    },
    // a failed POST (5xx: it may have been created; 409: it exists) leads to another lookup by name, never a blind second create
    { retryIf: (e) => isFailedPost(e) && (isTransient(e) || isNameTaken(e)), attempts: 4, baseMs: 500, maxMs: 4_000 },
  );
  await journal.created(TUNNEL_JOURNAL_KEY, tunnel.id, { name });
  return { tunnelId: tunnel.id, token: await fetchTunnelToken(api, tunnel.id) };
}

function serviceMatches(s: VpcServiceObject, body: VpcServiceBody): boolean {
  const h = s.host ?? {};
  return (
    s.name === body.name &&
    s.type === body.type &&
    h.ipv4 === body.host.ipv4 &&
    h.ipv6 === undefined &&
    h.hostname === undefined &&
    h.network?.tunnel_id === body.host.network.tunnel_id &&
    s.http_port === body.http_port &&
    s.https_port === undefined
  );
}

/**
 * The Workers VPC service `crawl4ai-mcp-<deployment>` for 127.0.0.1:11235 on `tunnelId`.
 * Reuses the journaled one (PUT with the exact body when it drifted, e.g. a new tunnel); else
 * adopts one of that name (removing extra duplicates of that name); else creates it.
 */
export async function ensureVpcService(
  api: CloudflareApi,
  journal: Journal,
  deployment: string,
  tunnelId: string,
  opts: TunnelOptions = {},
): Promise<{ serviceId: string }> {
  const log = opts.log ?? (() => {});
  const name = tunnelResourceName(deployment);
  const body = vpcServiceBody(name, tunnelId);
  const rec = journal.find(VPC_SERVICE_JOURNAL_KEY);
  const journaledId = ownedId(rec);
  if (journaledId) {
    const s = await getVpcService(api, journaledId);
    if (s) {
      if (!serviceMatches(s, body)) {
        log(`updating Workers VPC service ${name} (${s.service_id}) to 127.0.0.1:${CRAWL4AI_VM_PORT} on tunnel ${tunnelId}`);
        await api.put(servicePath(s.service_id), body);
      }
      if (rec!.phase !== 'created' || rec!.meta.tunnelId !== tunnelId) {
        await journal.created(VPC_SERVICE_JOURNAL_KEY, s.service_id, { name, tunnelId });
      }
      return { serviceId: s.service_id };
    }
    log(`Workers VPC service ${journaledId} no longer exists; creating a new one`);
    await journal.deleted(VPC_SERVICE_JOURNAL_KEY);
  } else if (rec?.phase === 'deleting') {
    await journal.deleted(VPC_SERVICE_JOURNAL_KEY);
  }

  await journal.intend(VPC_SERVICE_JOURNAL_KEY, 'cloudflare:vpc-service', { meta: { name, tunnelId } });
  const service = await retry(
    async () => {
      const existing = await findVpcServicesByName(api, name);
      if (existing.length > 0) {
        const keep = existing.find((s) => tunnelOfService(s) === tunnelId) ?? existing[0]!;
        log(`adopting existing Workers VPC service ${name} (${keep.service_id})`);
        if (!serviceMatches(keep, body)) await api.put(servicePath(keep.service_id), body);
        for (const extra of existing) {
          if (extra.service_id === keep.service_id) continue;
          log(`deleting duplicate Workers VPC service ${name} (${extra.service_id})`);
          await deleteIgnoringNotFound(api, servicePath(extra.service_id));
        }
        return keep;
      }
      log(`creating Workers VPC service ${name} for 127.0.0.1:${CRAWL4AI_VM_PORT} on tunnel ${tunnelId}`);
      const created = await api.post<VpcServiceObject>(servicesPath, body);
      if (!created?.service_id) throw new CliError(`Cloudflare created VPC service ${name} but answered without its id`, { hint: 'run the command again: it adopts the service by name' });
      return created;
    },
    { retryIf: (e) => isFailedPost(e) && isTransient(e), attempts: 4, baseMs: 500, maxMs: 4_000 },
  );
  await journal.created(VPC_SERVICE_JOURNAL_KEY, service.service_id, { name, tunnelId });
  return { serviceId: service.service_id };
}

// ---------------------------------------------------------------------------------------------
// health

/**
 * The tunnel's state as Cloudflare reports it (`inactive` = never connected, `healthy`,
 * `degraded`, `down`), `missing` when the tunnel does not exist (or is deleted), and the number
 * of connectors (cloudflared processes with at least one connection).
 */
export async function tunnelHealth(api: CloudflareApi, tunnelId: string): Promise<{ status: TunnelStatus; connectors: number }> {
  const tunnel = await getTunnel(api, tunnelId);
  if (!tunnel || tunnel.deleted_at) return { status: 'missing', connectors: 0 };
  let clients: TunnelClient[];
  try {
    clients = (await api.get<TunnelClient[] | null>(`${tunnelPath(tunnelId)}/connections`)) ?? [];
  } catch (e) {
    if (isCloudflareNotFound(e)) return { status: 'missing', connectors: 0 };
    throw e;
  }
  const connectors = (Array.isArray(clients) ? clients : []).filter((c) => !Array.isArray(c.conns) || c.conns.length > 0).length;
  const status: TunnelStatus =
    tunnel.status && API_STATUSES.has(tunnel.status) ? (tunnel.status as TunnelStatus) : connectors > 0 ? 'healthy' : 'down';
  return { status, connectors };
}

// ---------------------------------------------------------------------------------------------
// destroy

async function deleteIgnoringNotFound(api: CloudflareApi, path: string, query?: Record<string, string | boolean>): Promise<void> {
  try {
    await api.delete(path, query ? { query } : undefined);
  } catch (e) {
    if (!isCloudflareNotFound(e)) throw e;
  }
}

export function isActiveConnectionsRefusal(e: unknown): boolean {
  return e instanceof CloudflareApiError && (e.hasCode(ACTIVE_CONNECTIONS_CODE) || /active connection/i.test(e.apiMessage));
}

/**
 * Deletes one tunnel: its connections first, then the tunnel; when the API refuses because
 * connectors are (again) registered, cleans them and deletes with `?cascade=true`, a few times.
 * Already gone = done. Any other refusal is double-checked with a GET (a tunnel that is deleted
 * counts as done) before it is thrown.
 */
export async function deleteTunnel(api: CloudflareApi, tunnelId: string, opts: TunnelOptions = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  const path = tunnelPath(tunnelId);
  try {
    await deleteIgnoringNotFound(api, `${path}/connections`);
    try {
      await deleteIgnoringNotFound(api, path);
      return;
    } catch (e) {
      if (!isActiveConnectionsRefusal(e)) throw e;
      log(`Cloudflare Tunnel ${tunnelId} still has active connections; cleaning them up and deleting with cascade`);
    }
    await retry(
      async () => {
        await deleteIgnoringNotFound(api, `${path}/connections`);
        await deleteIgnoringNotFound(api, path, { cascade: true });
      },
      { retryIf: isActiveConnectionsRefusal, attempts: 4, baseMs: 1_000, maxMs: 5_000 },
    );
  } catch (e) {
    const t = await getTunnel(api, tunnelId).catch(() => null);
    if (t === undefined || (t && t.deleted_at)) return;
    throw e;
  }
}

export interface TunnelDestroyResult {
  /** ids of the VPC services deleted (or found already gone) */
  vpcServices: string[];
  /** ids of the tunnels deleted (or found already gone) */
  tunnels: string[];
}

/**
 * Removes the deployment's tunnel-mode resources, in the order the API needs: the VPC service(s)
 * (the journaled one, every one named `crawl4ai-mcp-<deployment>`, and any pointing at one of our
 * tunnels), then each tunnel's connections, then the tunnel (cascade when connectors remain). The
 * tunnels are the journaled one plus every non-deleted one of our name, so this works with an
 * empty journal (state file lost). Idempotent: a resource already gone is skipped; journal
 * records end in phase 'deleted'. `journal` may be null when there is no state at all.
 */
export async function destroyTunnelResources(
  api: CloudflareApi,
  journal: Journal | null,
  deployment: string,
  opts: TunnelOptions = {},
): Promise<TunnelDestroyResult> {
  const log = opts.log ?? (() => {});
  const name = tunnelResourceName(deployment);

  const tunnelRec = journal?.find(TUNNEL_JOURNAL_KEY);
  const tunnelIds = new Set<string>();
  if (tunnelRec?.id && tunnelRec.phase !== 'deleted') tunnelIds.add(tunnelRec.id);
  for (const t of await findTunnelsByName(api, name)) tunnelIds.add(t.id);

  const serviceRec = journal?.find(VPC_SERVICE_JOURNAL_KEY);
  const serviceIds = new Set<string>();
  if (serviceRec?.id && serviceRec.phase !== 'deleted') serviceIds.add(serviceRec.id);
  for (const s of await api.list<VpcServiceObject>(servicesPath)) {
    const onOurTunnel = tunnelOfService(s);
    if (s.name === name || (onOurTunnel !== undefined && tunnelIds.has(onOurTunnel))) serviceIds.add(s.service_id);
  }

  // 1. VPC services (they point at the tunnel)
  if (journal && serviceRec && serviceRec.phase !== 'deleted') await journal.deleting(VPC_SERVICE_JOURNAL_KEY);
  for (const id of serviceIds) {
    log(`deleting Workers VPC service ${id}`);
    await deleteIgnoringNotFound(api, servicePath(id));
  }
  if (journal && serviceRec && serviceRec.phase !== 'deleted') await journal.deleted(VPC_SERVICE_JOURNAL_KEY);

  // 2. + 3. each tunnel: connections, then the tunnel
  if (journal && tunnelRec && tunnelRec.phase !== 'deleted') await journal.deleting(TUNNEL_JOURNAL_KEY);
  for (const id of tunnelIds) {
    log(`deleting Cloudflare Tunnel ${id}`);
    await deleteTunnel(api, id, opts);
  }
  if (journal && tunnelRec && tunnelRec.phase !== 'deleted') await journal.deleted(TUNNEL_JOURNAL_KEY);

  return { vpcServices: [...serviceIds], tunnels: [...tunnelIds] };
}

// ---------------------------------------------------------------------------------------------
// token check

/**
 * Checks the token before anything is created: GET /user/tokens/verify (an account-owned token
 * is verified at /accounts/{id}/tokens/verify instead), then each permission the network mode
 * needs with its read-only probe from permissions.ts. A probe refused with 401/403 names that
 * permission in `missing`. A permission no read can prove (Connectivity Directory › Bind) is looked
 * up in the token's own policies; when the token may not read those, it is listed in `unchecked`.
 * A token that is not valid or not active throws (exit 3).
 */
export async function checkTokenPermissions(
  api: CloudflareApi,
  mode: NetworkMode,
  opts: { includeOptional?: boolean } = {},
): Promise<{ missing: string[]; checked: string[]; unchecked: string[] }> {
  let verified: { id?: string; status?: string };
  try {
    verified = await api.get<{ id?: string; status?: string }>('/user/tokens/verify');
  } catch (userErr) {
    if (!(isCloudflareApiError(userErr) && userErr.isAuth)) throw userErr;
    try {
      verified = await api.get<{ id?: string; status?: string }>('/accounts/{account_id}/tokens/verify');
    } catch (accountErr) {
      if (!(isCloudflareApiError(accountErr) && accountErr.isAuth)) throw accountErr;
      throw credentialsError(
        `Cloudflare does not accept the API token (HTTP ${userErr.status}: ${userErr.apiMessage})`,
        'check CLOUDFLARE_API_TOKEN (create one with the permissions in templates/policies/cloudflare-token.json) and CLOUDFLARE_ACCOUNT_ID',
        userErr,
      );
    }
  }
  if (verified?.status !== undefined && verified.status !== 'active') {
    throw credentialsError(
      `the Cloudflare API token is ${verified.status}, not active`,
      'create a new token with the permissions in templates/policies/cloudflare-token.json and set CLOUDFLARE_API_TOKEN',
    );
  }
  const missing: string[] = [];
  const checked: string[] = [];
  const unchecked: string[] = [];
  let groups: Set<string> | null | undefined; // the token's own permission groups; null = it may not read them
  for (const p of cloudflarePermissionsFor(mode, opts)) {
    const label = permissionLabel(p);
    if (p.probe === null) {
      // no read-only call needs this group (Bind): look for it in the token's own policies
      if (groups === undefined) groups = verified.id ? await tokenPermissionGroups(api, verified.id) : null;
      if (groups === null) {
        unchecked.push(label);
        continue;
      }
      checked.push(label);
      if (!groups.has(p.apiGroup)) missing.push(label);
      continue;
    }
    checked.push(label);
    try {
      await api.get<unknown>(p.probe.path);
    } catch (e) {
      if (isCloudflareApiError(e) && e.isAuth) missing.push(label);
      else throw e;
    }
  }
  return { missing, checked, unchecked };
}

/** The permission-group names of token `id`, or null when the token may not read its own details. */
async function tokenPermissionGroups(api: CloudflareApi, id: string): Promise<Set<string> | null> {
  type Details = { policies?: Array<{ effect?: string; permission_groups?: Array<{ name?: string }> }> };
  for (const path of [`/user/tokens/${encodeURIComponent(id)}`, `/accounts/{account_id}/tokens/${encodeURIComponent(id)}`]) {
    try {
      const d = await api.get<Details>(path);
      const names = (d.policies ?? []).filter((pol) => pol.effect !== 'deny').flatMap((pol) => (pol.permission_groups ?? []).map((g) => g.name ?? ''));
      return new Set(names);
    } catch (e) {
      if (!(isCloudflareApiError(e) && (e.isAuth || e.status === 404))) throw e;
    }
  }
  return null;
}

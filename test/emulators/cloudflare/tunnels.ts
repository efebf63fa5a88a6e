// Cloudflare Tunnel (`cfd_tunnel`, remotely managed), as in reference/tunnel-mode.md §1. A "connector" stands for a
// running cloudflared on the VM; tests register one with connectTunnel(), which is what makes VPC bindings work.
import { randomBytes } from 'node:crypto';
import { CfApiError, ErrorCodes, nowIso, paginate, uuid } from './envelope.js';
import { jsonBody, type Router } from './router.js';

export interface TunnelConnector {
  id: string;
  /** loopback stand-in for what cloudflared reaches on the VM (e.g. 127.0.0.1:11235) */
  target: string;
  runAt: string;
  conns: Array<{
    colo_name: string;
    id: string;
    is_pending_reconnect: boolean;
    origin_ip: string;
    opened_at: string;
    client_id: string;
    client_version: string;
  }>;
}

export interface TunnelRecord {
  id: string;
  name: string;
  secret: string;
  configSrc: 'cloudflare' | 'local';
  createdAt: string;
  deletedAt: string | null;
  connsActiveAt: string | null;
  connsInactiveAt: string | null;
  everConnected: boolean;
  connectors: TunnelConnector[];
  configuration?: { version: number; config: unknown; created_at: string };
  metadata: Record<string, unknown>;
}

const CLOUDFLARED_VERSION = '2026.8.2';

export class TunnelStore {
  readonly #tunnels = new Map<string, TunnelRecord>();

  constructor(private readonly accountId: string) {}

  list(): TunnelRecord[] {
    return [...this.#tunnels.values()];
  }

  get(id: string): TunnelRecord | undefined {
    return this.#tunnels.get(id);
  }

  status(t: TunnelRecord): 'inactive' | 'healthy' | 'down' {
    if (t.connectors.length > 0) return 'healthy';
    return t.everConnected ? 'down' : 'inactive';
  }

  /** The loopback target of the first live connector, if any. */
  activeTarget(id: string): string | undefined {
    const t = this.#tunnels.get(id);
    if (!t || t.deletedAt) return undefined;
    return t.connectors[0]?.target;
  }

  token(t: TunnelRecord): string {
    return Buffer.from(JSON.stringify({ a: this.accountId, t: t.id, s: t.secret })).toString('base64');
  }

  connect(id: string, target: string): void {
    const t = this.#tunnels.get(id);
    if (!t) throw new Error(`connectTunnel: no tunnel ${id}`);
    if (t.deletedAt) throw new Error(`connectTunnel: tunnel ${id} is deleted; cloudflared would fail to authenticate`);
    const clientId = uuid();
    const openedAt = nowIso();
    t.connectors.push({
      id: clientId,
      target,
      runAt: openedAt,
      conns: ['lhr01', 'lhr08', 'ams02', 'ams06'].map((colo) => ({
        colo_name: colo,
        id: uuid(),
        is_pending_reconnect: false,
        origin_ip: '203.0.113.10',
        opened_at: openedAt,
        client_id: clientId,
        client_version: CLOUDFLARED_VERSION,
      })),
    });
    t.everConnected = true;
    t.connsActiveAt = openedAt;
  }

  disconnect(id: string, clientId?: string): void {
    const t = this.#tunnels.get(id);
    if (!t) throw new Error(`disconnectTunnel: no tunnel ${id}`);
    const before = t.connectors.length;
    t.connectors = clientId ? t.connectors.filter((c) => c.id !== clientId) : [];
    if (before > 0 && t.connectors.length === 0) t.connsInactiveAt = nowIso();
  }

  #require(id: string): TunnelRecord {
    const t = this.#tunnels.get(id);
    if (!t) throw new CfApiError(404, ErrorCodes.tunnelNotFound, 'Tunnel not found');
    return t;
  }

  #json(t: TunnelRecord): Record<string, unknown> {
    return {
      id: t.id,
      account_tag: this.accountId,
      created_at: t.createdAt,
      deleted_at: t.deletedAt,
      name: t.name,
      connections: t.connectors.flatMap((c) => c.conns),
      conns_active_at: t.connsActiveAt,
      conns_inactive_at: t.connsInactiveAt,
      tun_type: 'cfd_tunnel',
      metadata: t.metadata,
      status: this.status(t),
      remote_config: t.configSrc === 'cloudflare',
      config_src: t.configSrc,
    };
  }

  #clientJson(c: TunnelConnector): Record<string, unknown> {
    return {
      id: c.id,
      features: ['ha-origin', 'support_datagram_v3_2', 'management_logs'],
      version: CLOUDFLARED_VERSION,
      arch: 'linux_amd64',
      run_at: c.runAt,
      conns: c.conns,
    };
  }

  register(router: Router): void {
    const base = '/accounts/:account/cfd_tunnel';
    router.on('POST', base, (req) => {
      const body = jsonBody<{ name?: string; config_src?: string; tunnel_secret?: string }>(req);
      const name = String(body.name ?? '').trim();
      if (!name) throw new CfApiError(400, ErrorCodes.badRequest, 'Tunnel name is required');
      if (this.list().some((t) => t.name === name && !t.deletedAt)) {
        throw new CfApiError(409, ErrorCodes.tunnelNameTaken, 'A tunnel with that name already exists');
      }
      let secret: string;
      if (body.tunnel_secret !== undefined) {
        if (Buffer.from(body.tunnel_secret, 'base64').length < 32) {
          throw new CfApiError(400, ErrorCodes.badRequest, 'tunnel_secret must be at least 32 bytes, base64 encoded');
        }
        secret = body.tunnel_secret;
      } else {
        secret = randomBytes(32).toString('base64');
      }
      const t: TunnelRecord = {
        id: uuid(),
        name,
        secret,
        configSrc: body.config_src === 'local' ? 'local' : 'cloudflare',
        createdAt: nowIso(),
        deletedAt: null,
        connsActiveAt: null,
        connsInactiveAt: nowIso(),
        everConnected: false,
        connectors: [],
        metadata: {},
      };
      this.#tunnels.set(t.id, t);
      return {
        result: {
          ...this.#json(t),
          credentials_file: { AccountTag: this.accountId, TunnelID: t.id, TunnelName: t.name, TunnelSecret: t.secret },
          token: this.token(t),
        },
      };
    });
    router.on('GET', base, (req) => {
      const q = req.query;
      let items = this.list();
      if (q.get('name')) items = items.filter((t) => t.name === q.get('name'));
      if (q.get('uuid')) items = items.filter((t) => t.id === q.get('uuid'));
      if (q.get('is_deleted') === 'true') items = items.filter((t) => t.deletedAt);
      if (q.get('is_deleted') === 'false') items = items.filter((t) => !t.deletedAt);
      if (q.get('status')) items = items.filter((t) => this.status(t) === q.get('status'));
      if (q.get('include_prefix')) items = items.filter((t) => t.name.startsWith(q.get('include_prefix')!));
      if (q.get('exclude_prefix')) items = items.filter((t) => !t.name.startsWith(q.get('exclude_prefix')!));
      const { result, resultInfo } = paginate(items.map((t) => this.#json(t)), q, 20, 1000);
      return { result, resultInfo };
    });
    router.on('GET', `${base}/:id`, (req) => ({ result: this.#json(this.#require(req.params.id!)) }));
    router.on('PATCH', `${base}/:id`, (req) => {
      const t = this.#require(req.params.id!);
      const body = jsonBody<{ name?: string; tunnel_secret?: string }>(req);
      if (body.name) t.name = body.name;
      if (body.tunnel_secret) t.secret = body.tunnel_secret;
      return { result: this.#json(t) };
    });
    router.on('DELETE', `${base}/:id`, (req) => {
      const t = this.#require(req.params.id!);
      if (t.deletedAt) throw new CfApiError(404, ErrorCodes.tunnelNotFound, 'Tunnel not found');
      if (t.connectors.length > 0) {
        if (req.query.get('cascade') !== 'true') {
          throw new CfApiError(400, ErrorCodes.tunnelActiveConnections, 'Cannot delete tunnel because it has active connections');
        }
        this.disconnect(t.id);
      }
      t.deletedAt = nowIso();
      return { result: this.#json(t) };
    });
    router.on('GET', `${base}/:id/token`, (req) => {
      const t = this.#require(req.params.id!);
      if (t.deletedAt) throw new CfApiError(404, ErrorCodes.tunnelNotFound, 'Tunnel not found');
      return { result: this.token(t) };
    });
    router.on('GET', `${base}/:id/connections`, (req) => ({ result: this.#require(req.params.id!).connectors.map((c) => this.#clientJson(c)) }));
    router.on('DELETE', `${base}/:id/connections`, (req) => {
      const t = this.#require(req.params.id!);
      this.disconnect(t.id, req.query.get('client_id') ?? undefined);
      return { result: null };
    });
    router.on('GET', `${base}/:id/connectors/:connector`, (req) => {
      const c = this.#require(req.params.id!).connectors.find((x) => x.id === req.params.connector);
      if (!c) throw new CfApiError(404, ErrorCodes.tunnelNotFound, 'Connector not found');
      return { result: this.#clientJson(c) };
    });
    router.on('PUT', `${base}/:id/configurations`, (req) => {
      const t = this.#require(req.params.id!);
      const body = jsonBody<{ config?: unknown }>(req);
      t.configuration = { version: (t.configuration?.version ?? 0) + 1, config: body.config ?? {}, created_at: nowIso() };
      return { result: this.#configJson(t) };
    });
    router.on('GET', `${base}/:id/configurations`, (req) => ({ result: this.#configJson(this.#require(req.params.id!)) }));
  }

  #configJson(t: TunnelRecord): Record<string, unknown> {
    return {
      account_id: this.accountId,
      tunnel_id: t.id,
      version: t.configuration?.version ?? 0,
      config: t.configuration?.config ?? null,
      source: t.configSrc,
      created_at: t.configuration?.created_at ?? t.createdAt,
    };
  }
}

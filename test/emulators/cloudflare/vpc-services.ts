// Workers VPC services (Connectivity Directory), reference/tunnel-mode.md §2, and the data path of a `vpc_service`
// binding: Worker -> (tunnel) -> the connector's target. With no connector the Worker's fetch() throws, as in production.
import { isIPv4, isIPv6 } from 'node:net';
import { CfApiError, ErrorCodes, nowIso, paginate, uuid } from './envelope.js';
import { forwardHttp } from './edge-outbound.js';
import { jsonBody, type Router } from './router.js';
import type { TunnelStore } from './tunnels.js';

export interface VpcServiceHost {
  ipv4?: string;
  ipv6?: string;
  hostname?: string;
  network?: { tunnel_id: string };
  resolver_network?: { tunnel_id: string; resolver_ips?: string[] };
}

export interface VpcService {
  service_id: string;
  type: 'http' | 'tcp';
  name: string;
  http_port?: number;
  https_port?: number;
  tcp_port?: number;
  app_protocol?: string;
  host: VpcServiceHost;
  tls_settings?: { cert_verification_mode: string };
  created_at: string;
  updated_at: string;
}

/** Header by which the connector tells the binding stand-in to throw `Error("ProxyError: <code>")`. */
export const VPC_ERROR_HEADER = 'cf-emulator-vpc-error';

export class VpcServiceStore {
  readonly #services = new Map<string, VpcService>();

  constructor(private readonly tunnels: TunnelStore) {}

  list(): VpcService[] {
    return [...this.#services.values()];
  }

  get(id: string): VpcService | undefined {
    return this.#services.get(id);
  }

  tunnelOf(service: VpcService): string | undefined {
    return service.host.network?.tunnel_id ?? service.host.resolver_network?.tunnel_id;
  }

  #validate(body: Partial<VpcService>): Omit<VpcService, 'service_id' | 'created_at' | 'updated_at'> {
    const invalid = (message: string): CfApiError => new CfApiError(400, ErrorCodes.vpcInvalid, message);
    if (!body.name) throw invalid('name is required');
    if (body.type !== 'http' && body.type !== 'tcp') throw invalid('type must be "http" or "tcp"');
    const host = body.host;
    if (!host || typeof host !== 'object') throw invalid('host is required');
    const kinds = [host.ipv4, host.ipv6, host.hostname].filter((x) => x !== undefined);
    if (kinds.length !== 1) throw invalid('host needs exactly one of ipv4, ipv6, hostname');
    if (host.ipv4 !== undefined && !isIPv4(host.ipv4)) throw invalid('host.ipv4 is not an IPv4 address');
    if (host.ipv6 !== undefined && !isIPv6(host.ipv6)) throw invalid('host.ipv6 is not an IPv6 address');
    const tunnelId = host.network?.tunnel_id ?? host.resolver_network?.tunnel_id;
    if (!tunnelId) throw invalid('host.network.tunnel_id (or host.resolver_network.tunnel_id) is required');
    const tunnel = this.tunnels.get(tunnelId);
    if (!tunnel || tunnel.deletedAt) throw invalid(`tunnel ${tunnelId} does not exist`);
    for (const port of ['http_port', 'https_port', 'tcp_port'] as const) {
      const value = body[port];
      if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 65535)) throw invalid(`${port} must be a port number`);
    }
    return {
      type: body.type,
      name: body.name,
      host,
      ...(body.http_port !== undefined ? { http_port: body.http_port } : {}),
      ...(body.https_port !== undefined ? { https_port: body.https_port } : {}),
      ...(body.tcp_port !== undefined ? { tcp_port: body.tcp_port } : {}),
      ...(body.app_protocol !== undefined ? { app_protocol: body.app_protocol } : {}),
      ...(body.tls_settings !== undefined ? { tls_settings: body.tls_settings } : {}),
    };
  }

  #require(id: string): VpcService {
    const s = this.#services.get(id);
    if (!s) throw new CfApiError(404, ErrorCodes.vpcServiceNotFound, 'Service not found');
    return s;
  }

  /**
   * The connector side of a `vpc_service` binding. The URL's host only sets the Host header and its port is ignored:
   * the service's http_port / https_port (by scheme) picks the origin port, which the tunnel's connector target stands in for.
   */
  async connect(serviceId: string, request: Request): Promise<Response> {
    const fail = (code: string): Response => new Response(null, { status: 502, headers: { [VPC_ERROR_HEADER]: code } });
    const service = this.#services.get(serviceId);
    if (!service) return fail('destination_unavailable');
    const tunnelId = this.tunnelOf(service);
    const target = tunnelId ? this.tunnels.activeTarget(tunnelId) : undefined;
    if (!target) return fail('destination_unavailable');
    const url = new URL(request.url);
    const portSet = service.http_port !== undefined || service.https_port !== undefined;
    if (url.protocol === 'https:' && portSet && service.https_port === undefined) return fail('connection_refused');
    if (url.protocol === 'http:' && portSet && service.http_port === undefined) return fail('connection_refused');
    const outcome = await forwardHttp(request, target, { hostHeader: url.host.replace(/:\d+$/, '') });
    if ('response' in outcome) return outcome.response;
    if (outcome.error === 'refused') return fail('connection_refused');
    if (outcome.error === 'timeout') return fail('connection_timeout');
    return fail('connection_terminated');
  }

  register(router: Router): void {
    const base = '/accounts/:account/connectivity/directory/services';
    router.on('POST', base, (req) => {
      const now = nowIso();
      const service: VpcService = { service_id: uuid(), ...this.#validate(jsonBody<Partial<VpcService>>(req)), created_at: now, updated_at: now };
      this.#services.set(service.service_id, service);
      return { result: service };
    });
    router.on('GET', base, (req) => {
      const { result, resultInfo } = paginate(this.list(), req.query, 20, 1000);
      return { result, resultInfo };
    });
    router.on('GET', `${base}/:id`, (req) => ({ result: this.#require(req.params.id!) }));
    router.on('PUT', `${base}/:id`, (req) => {
      const existing = this.#require(req.params.id!);
      const updated: VpcService = {
        service_id: existing.service_id,
        ...this.#validate(jsonBody<Partial<VpcService>>(req)),
        created_at: existing.created_at,
        updated_at: nowIso(),
      };
      this.#services.set(updated.service_id, updated);
      return { result: updated };
    });
    router.on('DELETE', `${base}/:id`, (req) => {
      this.#require(req.params.id!);
      this.#services.delete(req.params.id!);
      return { result: null };
    });
  }
}

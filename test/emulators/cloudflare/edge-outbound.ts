// What the Cloudflare edge does with a deployed Worker's outbound fetch(): Miniflare hands every global fetch() of the
// Worker (and of its Durable Objects) to edgeFetch(). Facts reproduced (ARCHITECTURE.md, "Facts of the real platform"):
//   bare IP literal                    -> 403 "error code: 1003"
//   hostname that does not resolve     -> 530 "error code: 1016"   (not in the hosts map)
//   origin port closed                 -> 521 "error code: 521"
//   origin does not answer in time     -> 522 "error code: 522"
//   https origin, untrusted cert       -> 526 "error code: 526"    (hosts entry marked untrustedCert, or an https
//                                                                    origin whose certificate does not verify against
//                                                                    the entry's `ca` for the public hostname)
// A hostname in the map is forwarded to its loopback base URL, keeping method, path, query, headers and body.
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';

export interface HostTarget {
  /** loopback base URL standing in for the public origin, e.g. http://127.0.0.1:4567 */
  url: string;
  /** the origin presents a certificate that is not publicly trusted: https fetches get 526 */
  untrustedCert?: boolean;
  /**
   * For an https `url`: the CA (PEM) standing in for the public trust store. The edge really verifies
   * the origin's certificate against it for the public hostname (SNI and name check), so a
   * self-signed or wrong-name certificate gets 526 as on the edge.
   */
  ca?: string;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length']);

export function edgeError(status: number, code: number | string): Response {
  return new Response(`error code: ${code}`, { status, headers: { 'content-type': 'text/plain; charset=UTF-8', 'cf-ray': rayId() } });
}

function rayId(): string {
  return `${Math.floor(Math.random() * 0xffffffffffff).toString(16).padStart(12, '0')}abcd-EMU`;
}

export type ForwardOutcome = { response: Response } | { error: 'refused' | 'timeout' | 'untrusted' | 'failed'; detail: string };

// Node's codes for a certificate that does not verify (chain or name)
const CERT_ERRORS = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * Sends `request` to `base` (path of the request URL appended to the base path), with node:http so that Host and
 * every other header pass unchanged and a refused connection is told apart from other failures.
 */
export async function forwardHttp(
  request: Request,
  base: string,
  opts: { hostHeader?: string; extraHeaders?: Record<string, string>; connectTimeoutMs?: number; tls?: { ca: string; servername: string } } = {},
): Promise<ForwardOutcome> {
  const source = new URL(request.url);
  const target = new URL(base);
  const basePath = target.pathname.replace(/\/$/, '');
  const path = `${basePath}${source.pathname}${source.search}`;
  const headers: Record<string, string> = {};
  request.headers.forEach((value, key) => {
    if (!HOP_BY_HOP.has(key)) headers[key] = value;
  });
  headers.host = opts.hostHeader ?? source.host;
  Object.assign(headers, opts.extraHeaders ?? {});
  const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : Buffer.from(await request.arrayBuffer());
  if (body) headers['content-length'] = String(body.length);

  const client = target.protocol === 'https:' ? https : http;
  return await new Promise<ForwardOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: ForwardOutcome): void => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const req = client.request(
      {
        hostname: target.hostname,
        port: target.port || (target.protocol === 'https:' ? 443 : 80),
        method: request.method,
        path,
        headers,
        agent: false,
        ...(opts.tls && target.protocol === 'https:' ? { ca: opts.tls.ca, servername: opts.tls.servername } : {}), // Node checks the name against servername
      },
      (res) => {
        const out = new Headers();
        for (const [key, value] of Object.entries(res.headers)) {
          if (value === undefined || HOP_BY_HOP.has(key)) continue;
          for (const v of Array.isArray(value) ? value : [value]) out.append(key, v);
        }
        const status = res.statusCode ?? 502;
        const noBody = request.method === 'HEAD' || status === 204 || status === 304;
        if (noBody) res.resume();
        const stream = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
        settle({ response: new Response(stream, { status: status < 200 ? 502 : status, statusText: res.statusMessage ?? '', headers: out }) });
      },
    );
    req.setTimeout(opts.connectTimeoutMs ?? 15_000, () => {
      req.destroy(Object.assign(new Error('origin timed out'), { code: 'ETIMEDOUT' }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code && CERT_ERRORS.has(error.code)) settle({ error: 'untrusted', detail: error.message });
      else if (error.code === 'ECONNREFUSED') settle({ error: 'refused', detail: error.message });
      else if (error.code === 'ETIMEDOUT') settle({ error: 'timeout', detail: error.message });
      else settle({ error: 'failed', detail: error.message });
    });
    req.end(body);
  });
}

export class EdgeOutbound {
  readonly #hosts = new Map<string, HostTarget>();

  constructor(hosts: Record<string, string | HostTarget> = {}) {
    for (const [hostname, target] of Object.entries(hosts)) this.setHost(hostname, target);
  }

  setHost(hostname: string, target: string | HostTarget | null): void {
    const key = hostname.toLowerCase();
    if (target === null) this.#hosts.delete(key);
    else this.#hosts.set(key, typeof target === 'string' ? { url: target } : target);
  }

  /** `callerZone` is the workers.dev zone of the calling Worker, sent as CF-Worker like the edge does. */
  async fetch(request: Request, callerZone: string): Promise<Response> {
    const url = new URL(request.url);
    const hostname = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (isIP(hostname) !== 0) return edgeError(403, 1003);
    const target = (url.port ? this.#hosts.get(`${hostname}:${url.port}`) : undefined) ?? this.#hosts.get(hostname);
    if (!target) return edgeError(530, 1016);
    if (url.protocol === 'https:' && target.untrustedCert) return edgeError(526, 526);
    const outcome = await forwardHttp(request, target.url, {
      ...(target.ca ? { tls: { ca: target.ca, servername: hostname } } : {}),
      extraHeaders: {
        'cf-worker': callerZone,
        'cf-ray': rayId(),
        'x-forwarded-proto': url.protocol.replace(':', ''),
        'cf-connecting-ip': '2a06:98c0:3600::103',
      },
    });
    if ('response' in outcome) return outcome.response;
    if (outcome.error === 'refused') return edgeError(521, 521);
    if (outcome.error === 'timeout') return edgeError(522, 522);
    if (outcome.error === 'untrusted') return edgeError(526, 526);
    return edgeError(502, 502);
  }
}


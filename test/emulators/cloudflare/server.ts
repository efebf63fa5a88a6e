// The emulator's one HTTP listener: the v4 API under /client/v4, and deployed Workers under /__workers/<script>
// (or by Host header <script>.<subdomain>.workers.dev).
import http from 'node:http';
import { once } from 'node:events';
import { CfApiError, ErrorCodes, errorEnvelope, okEnvelope, type Envelope } from './envelope.js';
import type { ApiReply, Router } from './router.js';
import type { FaultInjector } from '../faults/injector.js';

export const API_PREFIX = '/client/v4';
export const WORKERS_PREFIX = '/__workers/';

export interface FaultRule {
  method: string;
  pathPattern: RegExp;
  status: number;
  code: number;
  retryAfter?: number;
  /** the error's message; default: the API's text for a 429 or a 5xx */
  message?: string;
}

export interface RecordedRequest {
  method: string;
  /** path below /client/v4, without the query */
  path: string;
  query: string;
  status?: number;
}

export interface ServerDeps {
  router: Router;
  accountId: string;
  apiToken?: string;
  requests: RecordedRequest[];
  unhandled: RecordedRequest[];
  faults: FaultRule[];
  /** Nth-call faults; calls are named "METHOD /path" (path below /client/v4) */
  injector: FaultInjector;
  /** script name for a `Host` header, if it is a workers.dev name of a deployed Worker */
  scriptForHost(host: string): string | undefined;
  /** answers a request to a deployed Worker, given the path below the Worker's root */
  serveWorker(script: string, incoming: http.IncomingMessage, pathAndQuery: string, body: Buffer): Promise<Response>;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(res: http.ServerResponse, status: number, envelope: Envelope, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(envelope);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

async function pipeResponse(response: Response, res: http.ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    // the body arrives decoded and is re-chunked here
    if (['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'mf-content-encoding'].includes(key) || key === 'set-cookie') return;
    headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const abort = (): void => void reader.cancel().catch(() => undefined);
  res.on('close', abort);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      if (res.destroyed) break;
    }
  } catch {
    // the Worker's stream failed mid-way: cut the connection like the edge would
    res.destroy();
    return;
  } finally {
    res.off('close', abort);
  }
  res.end();
}

export function createEmulatorServer(deps: ServerDeps): http.Server {
  const handleApi = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname.slice(API_PREFIX.length) || '/';
    const method = (req.method ?? 'GET').toUpperCase();
    const record: RecordedRequest = { method, path, query: url.search };
    deps.requests.push(record);
    const body = await readBody(req);
    const injected = deps.injector.take(`${method} ${path}`);
    if (injected === 'hang') {
      setTimeout(() => res.destroy(), deps.injector.hangMs);
      return;
    }
    const reply = (status: number, envelope: Envelope, headers?: Record<string, string>): void => {
      record.status = status;
      // 'lost': the call took effect, but its answer never arrives
      if (injected === 'lost') res.destroy();
      else sendJson(res, status, envelope, headers);
    };
    if (injected === '5xx') {
      reply(500, errorEnvelope([{ code: 10002, message: 'Internal server error' }]));
      return;
    }
    if (injected === 'throttle') {
      reply(429, errorEnvelope([{ code: 971, message: 'Please wait and consider throttling your request speed' }]), { 'retry-after': '0' });
      return;
    }

    const faultIndex = deps.faults.findIndex((f) => (f.method === '*' || f.method.toUpperCase() === method) && f.pathPattern.test(path));
    if (faultIndex !== -1) {
      const [fault] = deps.faults.splice(faultIndex, 1);
      const message = fault!.message ?? (fault!.status === 429 ? 'Rate limited. Please wait and consider throttling your request speed' : 'Internal server error');
      reply(fault!.status, errorEnvelope([{ code: fault!.code, message }]), fault!.retryAfter !== undefined ? { 'retry-after': String(fault!.retryAfter) } : {});
      return;
    }

    const authorization = String(req.headers.authorization ?? '');
    if (!authorization) {
      reply(400, errorEnvelope([{ code: ErrorCodes.missingAuth, message: 'Missing X-Auth-Key, X-Auth-Email or Authorization headers' }]));
      return;
    }
    const token = authorization.replace(/^Bearer\s+/i, '');
    if (!/^Bearer\s+/i.test(authorization) || (deps.apiToken !== undefined && token !== deps.apiToken)) {
      reply(403, errorEnvelope([{ code: ErrorCodes.authentication, message: 'Authentication error' }]));
      return;
    }
    const accountMatch = /^\/accounts\/([^/]+)/.exec(path);
    if (accountMatch && !/^[0-9a-f]{32}$/.test(accountMatch[1]!)) {
      // not an account id at all (a typo, an email, a zone name): the API cannot route it
      reply(404, errorEnvelope([{ code: ErrorCodes.noRoute, message: `Could not route to ${path}, perhaps your object identifier is invalid?` }]));
      return;
    }
    if (accountMatch && accountMatch[1] !== deps.accountId) {
      reply(403, errorEnvelope([{ code: ErrorCodes.authentication, message: 'Authentication error' }]));
      return;
    }

    const route = deps.router.match(method, path);
    if (!route) {
      deps.unhandled.push(record);
      reply(404, errorEnvelope([{ code: ErrorCodes.noRoute, message: `Could not route to ${path}, perhaps your object identifier is invalid?` }]));
      return;
    }
    try {
      const result: ApiReply = await route.handler({ method, path, query: url.searchParams, params: route.params, headers: req.headers, body });
      if (result.raw) {
        record.status = result.status ?? 200;
        if (injected === 'lost') {
          res.destroy();
          return;
        }
        res.writeHead(record.status, { 'content-type': result.contentType ?? 'application/octet-stream', 'content-length': result.raw.length });
        res.end(result.raw);
        return;
      }
      reply(result.status ?? 200, okEnvelope(result.result, result.resultInfo));
    } catch (error) {
      if (error instanceof CfApiError) {
        reply(error.status, errorEnvelope([{ code: error.code, message: error.message }]), error.headers);
      } else {
        reply(500, errorEnvelope([{ code: 10002, message: `Emulator failure: ${(error as Error).stack ?? String(error)}` }]));
      }
    }
  };

  const handleWorker = async (req: http.IncomingMessage, res: http.ServerResponse, script: string, pathAndQuery: string): Promise<void> => {
    const body = await readBody(req);
    const response = await deps.serveWorker(script, req, pathAndQuery, body);
    await pipeResponse(response, res);
  };

  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const host = String(req.headers.host ?? '').toLowerCase();
    let task: Promise<void>;
    if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) {
      task = handleApi(req, res, url);
    } else if (url.pathname.startsWith(WORKERS_PREFIX)) {
      const rest = url.pathname.slice(WORKERS_PREFIX.length);
      const slash = rest.indexOf('/');
      const script = decodeURIComponent(slash === -1 ? rest : rest.slice(0, slash));
      const path = slash === -1 ? '/' : rest.slice(slash);
      task = handleWorker(req, res, script, `${path}${url.search}`);
    } else if (deps.scriptForHost(host) !== undefined) {
      task = handleWorker(req, res, deps.scriptForHost(host)!, `${url.pathname}${url.search}`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not an emulator route');
      return;
    }
    task.catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`Emulator failure: ${(error as Error).stack ?? String(error)}`);
      } else {
        res.destroy();
      }
    });
  });
}

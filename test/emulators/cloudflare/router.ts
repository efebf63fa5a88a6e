// A tiny method + path-pattern router for the API half of the emulator.
import type { IncomingHttpHeaders } from 'node:http';
import { CfApiError, ErrorCodes, type ResultInfo } from './envelope.js';

export interface ApiRequest {
  method: string;
  /** path below /client/v4, e.g. /accounts/abc/workers/scripts/foo */
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ApiReply {
  status?: number;
  result: unknown;
  resultInfo?: ResultInfo | Record<string, unknown>;
  /** answer with these bytes instead of an envelope (e.g. KV values) */
  raw?: Buffer;
  contentType?: string;
}

export type ApiHandler = (req: ApiRequest) => ApiReply | Promise<ApiReply>;

interface Route {
  method: string;
  regex: RegExp;
  names: string[];
  handler: ApiHandler;
}

export class Router {
  readonly #routes: Route[] = [];

  /** `pattern` uses `:name` segments, e.g. `/accounts/:account/workers/scripts/:script`. */
  on(method: string, pattern: string, handler: ApiHandler): this {
    const names: string[] = [];
    const source = pattern
      .split('/')
      .map((segment) => {
        if (segment.startsWith(':')) {
          names.push(segment.slice(1));
          return '([^/]+)';
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.#routes.push({ method, regex: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  /** Returns the handler and decoded params, or null when no route matches the path at all. */
  match(method: string, path: string): { handler: ApiHandler; params: Record<string, string> } | null {
    let pathMatched = false;
    for (const route of this.#routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] ?? '');
      });
      return { handler: route.handler, params };
    }
    if (pathMatched) {
      return {
        handler: () => {
          throw new CfApiError(405, ErrorCodes.noRoute, `Method ${method} not allowed for ${path}`);
        },
        params: {},
      };
    }
    return null;
  }
}

export function jsonBody<T = Record<string, unknown>>(req: ApiRequest): T {
  if (req.body.length === 0) return {} as T;
  try {
    return JSON.parse(req.body.toString('utf8')) as T;
  } catch {
    throw new CfApiError(400, ErrorCodes.badRequest, 'Malformed JSON in request body');
  }
}

/** Parses a multipart/form-data body with the platform's own parser. */
export async function formBody(req: ApiRequest): Promise<FormData> {
  const contentType = String(req.headers['content-type'] ?? '');
  if (!contentType.startsWith('multipart/form-data')) {
    throw new CfApiError(400, ErrorCodes.badRequest, `Expected multipart/form-data, got ${contentType || 'no content type'}`);
  }
  const request = new Request('http://emulator.invalid/', {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new Uint8Array(req.body),
  });
  try {
    return await request.formData();
  } catch (error) {
    throw new CfApiError(400, ErrorCodes.badRequest, `Malformed multipart body: ${(error as Error).message}`);
  }
}

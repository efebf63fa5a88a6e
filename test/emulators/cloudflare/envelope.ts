// Cloudflare API v4 envelope, error codes and paging, as the real API (and wrangler) expect them.
import { randomBytes, randomUUID } from 'node:crypto';

export interface ApiErrorItem {
  code: number;
  message: string;
}

/** A v4 API error. Handlers throw it; the server turns it into `{success:false, errors:[…]}`. */
export class CfApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Error codes the emulator answers with. Those marked [U] are not confirmed against the real API. */
export const ErrorCodes = {
  authentication: 10000,
  /** missing Authorization header */
  missingAuth: 9106,
  noRoute: 7003,
  /** wrangler treats only this code as "script not found" on workers/scripts/* */
  scriptNotFound: 10007,
  /** wrangler treats only this code as "service not found" on workers/services/* */
  serviceNotFound: 10090,
  /** script validation / startup error; wrangler prints its notes */
  scriptValidation: 10021,
  badRequest: 10001,
  kvNamespaceNotFound: 10013,
  kvTitleTaken: 10014,
  kvKeyNotFound: 10009,
  /** [C per nport#16] tunnel has active connections */
  tunnelActiveConnections: 1022,
  /** [U] */
  tunnelNotFound: 1003,
  /** [U] */
  tunnelNameTaken: 1013,
  /** [U] */
  vpcServiceNotFound: 1002,
  /** [U] */
  vpcInvalid: 1001,
  rateLimited: 971,
} as const;

export interface Envelope {
  success: boolean;
  errors: ApiErrorItem[];
  messages: unknown[];
  result: unknown;
  result_info?: ResultInfo | Record<string, unknown>;
}

export interface ResultInfo {
  page: number;
  per_page: number;
  count: number;
  total_count: number;
  total_pages: number;
}

export function okEnvelope(result: unknown, resultInfo?: ResultInfo | Record<string, unknown>): Envelope {
  return { success: true, errors: [], messages: [], result, ...(resultInfo ? { result_info: resultInfo } : {}) };
}

export function errorEnvelope(errors: ApiErrorItem[]): Envelope {
  return { success: false, errors, messages: [], result: null };
}

/** Page/per_page paging as the v4 API does it; pages past the end are empty (the SDK stops on an empty page). */
export function paginate<T>(items: T[], query: URLSearchParams, defaultPerPage = 20, maxPerPage = 1000): { result: T[]; resultInfo: ResultInfo } {
  const page = Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1);
  const perPage = Math.min(maxPerPage, Math.max(1, Number.parseInt(query.get('per_page') ?? String(defaultPerPage), 10) || defaultPerPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return {
    result: slice,
    resultInfo: {
      page,
      per_page: perPage,
      count: slice.length,
      total_count: items.length,
      total_pages: Math.max(1, Math.ceil(items.length / perPage)),
    },
  };
}

/** 32 lower-case hex characters, the shape of account ids, KV namespace ids, script tags. */
export function hexId(): string {
  return randomBytes(16).toString('hex');
}

export function uuid(): string {
  return randomUUID();
}

export function nowIso(): string {
  return new Date().toISOString();
}

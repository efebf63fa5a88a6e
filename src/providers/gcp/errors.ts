import { capacityError, CliError, credentialsError, ExitCode, usageError } from '../../ground/errors.js';
import { retry } from '../../ground/wait.js';
import type { ProviderTiming } from '../timing.js';
import { GCP_POLICY_FILE } from './permissions.js';

/**
 * One readable line per Compute Engine failure, with the exit codes of ground/errors.ts, and the
 * retries of transient answers (429 rateLimitExceeded, 503, dropped connections) written once:
 * the client library's own retries are switched off (CALL_OPTIONS), so every retry is ours,
 * with backoff and jitter, and visible.
 */

/** Per-call options for every client call: no library retries (ours are in gcpCall), a bounded timeout. */
export const CALL_OPTIONS = { maxRetries: 0, timeout: 60_000 } as const;

export interface GcpErrorInfo {
  /** HTTP status of the answer (undefined when no answer came) */
  status?: number;
  /** the `errors[0].reason` of the answer, e.g. alreadyExists, notFound, rateLimitExceeded */
  reason?: string;
  message: string;
}

/** What Compute answered: the HTTP status and reason of a client-library error, if it was one. */
export function gcpErrorInfo(e: unknown): GcpErrorInfo {
  const err = (e ?? {}) as { httpStatusCode?: unknown; code?: unknown; reason?: unknown; message?: unknown; cause?: unknown };
  const status = typeof err.httpStatusCode === 'number' ? err.httpStatusCode : undefined;
  let reason = typeof err.reason === 'string' ? err.reason : undefined;
  const cause = err.cause as { response?: { data?: unknown } } | undefined;
  for (const raw of [cause?.response?.data, rawPayload(e)]) {
    if (reason) break;
    try {
      const json = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { error?: { errors?: Array<{ reason?: string }> } } | undefined;
      reason = json?.error?.errors?.[0]?.reason;
    } catch {
      // not JSON: no reason
    }
  }
  const message = String(typeof err.message === 'string' && err.message ? err.message : e).split('\n')[0]!.slice(0, 300);
  return { ...(status !== undefined ? { status } : {}), ...(reason ? { reason } : {}), message };
}

/** google-gax keeps the raw answer on a non-enumerable symbol property. */
function rawPayload(e: unknown): unknown {
  if (!e || typeof e !== 'object') return undefined;
  for (const sym of Object.getOwnPropertySymbols(e)) {
    if (String(sym).includes('raw')) return (e as Record<symbol, unknown>)[sym];
  }
  return undefined;
}

/** An operation that ended DONE with an error (Compute answers 200 and puts the error in the operation). */
export class GcpOperationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'GcpOperationError';
  }
}

export const isNotFound = (e: unknown) => gcpErrorInfo(e).status === 404;
export const isAlreadyExists = (e: unknown) => gcpErrorInfo(e).status === 409 || gcpErrorInfo(e).reason === 'alreadyExists';
export const isFingerprintConflict = (e: unknown) => gcpErrorInfo(e).status === 412;
export const isStockout = (e: unknown) => e instanceof GcpOperationError && /^ZONE_RESOURCE_POOL_EXHAUSTED/.test(e.code);

/** Worth another try: throttling, a 5xx, or no answer at all (connection reset, timeout). */
export function isTransient(e: unknown): boolean {
  if (e instanceof CliError || e instanceof GcpOperationError) return false;
  const { status, reason } = gcpErrorInfo(e);
  if (status === 429 || reason === 'rateLimitExceeded' || reason === 'userRateLimitExceeded') return true;
  if (status !== undefined) return status >= 500;
  const code = (e as { code?: unknown } | null)?.code;
  return code === 14 || code === 4 || (typeof code === 'string' && /^E[A-Z]+$/.test(code)); // UNAVAILABLE, DEADLINE_EXCEEDED, ECONNRESET…
}

export interface GcpErrorContext {
  /** what was being done, e.g. "instances.insert" */
  action: string;
  project: string;
  region: string;
  /** valid sizes other than the current one, suggested on capacity errors */
  otherSizes?: string[];
  /** the permission the call needs, named when it is denied */
  permission?: string;
  /** the machine type and zone a create or start was for, named on capacity errors */
  machineType?: string;
  zone?: string;
}

export function toCliError(e: unknown, c: GcpErrorContext): CliError {
  if (e instanceof CliError) return e;
  if (e instanceof GcpOperationError) {
    if (/RESOURCE_POOL_EXHAUSTED|QUOTA_EXCEEDED/.test(e.code)) {
      const sizes = c.otherSizes?.length ? `try --size ${c.otherSizes.join(' or --size ')} or another --region` : 'try another --region';
      return capacityError(`Compute Engine has no capacity for ${c.machineType ?? c.action} in ${c.zone ?? c.region} right now (${e.code})`, sizes, e);
    }
    return new CliError(`Compute Engine ${c.action} failed: ${e.message.slice(0, 300)}`, { cause: e });
  }
  const { status, reason, message } = gcpErrorInfo(e);
  if (status === 403) {
    const named = /Required '([a-zA-Z.]+)' permission/.exec(message)?.[1] ?? c.permission;
    if (/has not been used|is disabled|SERVICE_DISABLED/i.test(message)) {
      return usageError(`the Compute Engine API is not enabled in project ${c.project}`, `run: gcloud services enable compute.googleapis.com --project ${c.project}`);
    }
    return credentialsError(
      `GCP denied ${named ?? c.action}: the credentials lack this permission`,
      `grant the role in ${GCP_POLICY_FILE} to the service account in project ${c.project}`,
      e,
    );
  }
  if (status === 401 || /invalid_grant|invalid_client/.test(message)) {
    return credentialsError('GCP rejected the credentials (401 UNAUTHENTICATED)', 'check the service-account key (or run `gcloud auth application-default login`) and try again', e);
  }
  if (status === 429 || reason === 'rateLimitExceeded') {
    return new CliError(`GCP kept throttling ${c.action} (rateLimitExceeded) after several retries`, {
      hint: 'wait a minute and run the command again: it resumes where it stopped',
      exitCode: ExitCode.failed,
      cause: e,
    });
  }
  if (reason === 'quotaExceeded' || /QUOTA_EXCEEDED/.test(message)) {
    return capacityError(`a GCP quota is exhausted in ${c.region}: ${message}`, 'release unused resources, request a quota increase in the console (IAM & Admin > Quotas), or pick another --region', e);
  }
  if (status === 404 && /projects\/[^/']+'? was not found|project .* not found/i.test(message)) {
    return usageError(`GCP project ${c.project} was not found`, 'check the project id in the service-account key (or GOOGLE_CLOUD_PROJECT)');
  }
  if (status !== undefined) {
    return new CliError(`GCP ${c.action} failed (${status}${reason ? ` ${reason}` : ''}): ${message}`, { exitCode: ExitCode.failed, cause: e });
  }
  return new CliError(`cannot reach GCP for ${c.action} in ${c.region}: ${message}`, {
    hint: 'check your network; if CRAWL4AI_MCP_GCP_ENDPOINT is set, check it points at a running endpoint',
    cause: e,
  });
}

/**
 * Runs one Compute call: transient failures are retried with backoff (a mutation carries a
 * requestId, so its retry is deduplicated), anything else becomes a CliError named after the action.
 * `passThrough` errors (404, 409, 412 where the caller has a plan for them) are rethrown unchanged.
 */
export async function gcpCall<T>(
  c: GcpErrorContext & { timing: ProviderTiming },
  fn: () => Promise<T>,
  passThrough: (e: unknown) => boolean = () => false,
): Promise<T> {
  try {
    return await retry(fn, { retryIf: isTransient, attempts: 8, baseMs: c.timing.retryBaseMs, maxMs: c.timing.retryMaxMs });
  } catch (e) {
    if (passThrough(e)) throw e;
    throw toCliError(e, c);
  }
}

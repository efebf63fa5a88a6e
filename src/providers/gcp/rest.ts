import type { GcpClients } from './clients.js';

/**
 * One JSON call to a Google API the compute package has no client for (Resource Manager's
 * testIamPermissions, the IAM API's service accounts and keys), with the same credentials. A
 * failure is thrown as an Error carrying `httpStatusCode` and `reason` (Compute's errors[0].reason,
 * or the google.rpc status name such as ALREADY_EXISTS / FAILED_PRECONDITION) and the answer's
 * `details`, so gcpErrorInfo, toCliError and gcpCall's retries read it like a client-library error.
 */
export interface RestError extends Error {
  httpStatusCode: number;
  reason?: string;
  details?: unknown[];
}

export async function restCall<T>(gcp: GcpClients, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<T> {
  const token = await gcp.accessToken();
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(gcp.timing.requestTimeoutMs),
  });
  const json = (await res.json().catch(() => ({}))) as { error?: { message?: string; status?: string; errors?: Array<{ reason?: string }>; details?: unknown[] } };
  if (!res.ok) {
    const err = json.error;
    throw Object.assign(new Error(err?.message ?? `HTTP ${res.status}`), {
      httpStatusCode: res.status,
      reason: err?.errors?.[0]?.reason ?? err?.status,
      details: err?.details ?? [],
    }) as RestError;
  }
  return json as T;
}

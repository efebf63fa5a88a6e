import { CliError, ExitCode } from '../ground/errors.js';

export interface WorkerHealth {
  /** the Worker answered /health */
  worker: { ok: boolean; version?: string; error?: string };
  /** Crawl4AI answered through the Worker (the Worker's authenticated /status) */
  origin: { ok: boolean; version?: string; error?: string };
}

async function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body };
}

/** One look at the Worker and, through it, at Crawl4AI. Never throws. */
export async function checkWorker(workerUrl: string, apiKey: string | null, timeoutMs = 15_000): Promise<WorkerHealth> {
  const base = workerUrl.replace(/\/+$/, '');
  const out: WorkerHealth = { worker: { ok: false }, origin: { ok: false } };
  try {
    const h = await getJson(`${base}/health`, {}, timeoutMs);
    const b = h.body as { status?: string; version?: string };
    out.worker = h.status === 200 && b?.status === 'ok' ? { ok: true, ...(b.version ? { version: b.version } : {}) } : { ok: false, error: `HTTP ${h.status}` };
  } catch (e) {
    out.worker = { ok: false, error: (e as Error).message };
    out.origin = { ok: false, error: 'Worker unreachable' };
    return out;
  }
  if (!apiKey) {
    out.origin = { ok: false, error: 'no API key in the secret store to ask the Worker' };
    return out;
  }
  try {
    const s = await getJson(`${base}/status`, { authorization: `Bearer ${apiKey}` }, timeoutMs);
    const b = s.body as { origin?: { ok?: boolean; version?: string; error?: string } };
    if (s.status === 200 && b?.origin) {
      out.origin = { ok: Boolean(b.origin.ok), ...(b.origin.version ? { version: b.origin.version } : {}), ...(b.origin.error ? { error: b.origin.error } : {}) };
    } else {
      out.origin = { ok: false, error: s.status === 401 ? 'the Worker refused the API key' : `HTTP ${s.status}` };
    }
  } catch (e) {
    out.origin = { ok: false, error: (e as Error).message };
  }
  return out;
}

/** Waits until Crawl4AI answers healthy through the Worker (the VM takes minutes to boot). */
export async function waitHealthyThroughWorker(
  workerUrl: string,
  apiKey: string,
  opts: { timeoutMs: number; intervalMs: number; onWait?: (h: WorkerHealth) => void },
): Promise<WorkerHealth> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const h = await checkWorker(workerUrl, apiKey);
    if (h.worker.ok && h.origin.ok) return h;
    if (Date.now() > deadline) {
      throw new CliError(`Crawl4AI did not become healthy through the Worker within ${Math.round(opts.timeoutMs / 1000)} s (${h.origin.error ?? h.worker.error ?? 'unknown'})`, {
        exitCode: ExitCode.failed,
        hint: 'the VM may still be booting: check again with `crawl4ai-mcp status`; re-running `init` resumes',
      });
    }
    opts.onWait?.(h);
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

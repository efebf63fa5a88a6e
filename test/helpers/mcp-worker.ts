/**
 * The MCP Worker in real workerd for tests and benchmarks: the built `dist/worker/index.js` is
 * bundled by wrangler (`deploy --dry-run --outdir`, exactly what deploy uploads) and run with
 * Miniflare. The bundle is cached by the hash of its inputs, so several test files share one build.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = path.join(ROOT, 'dist');
const WRANGLER = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

function ensureBuilt(): void {
  if (fs.existsSync(path.join(DIST, 'worker', 'index.js')) && fs.existsSync(path.join(DIST, 'cli', 'program.js'))) return;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  if (!fs.existsSync(path.join(DIST, 'worker', 'index.js'))) throw new Error(`tsc did not produce dist/worker/index.js (exit ${r.status})`);
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

function inputsHash(): string {
  const h = createHash('sha256');
  const files = [
    ...filesUnder(path.join(DIST, 'worker')),
    ...filesUnder(path.join(DIST, 'mcp')),
    ...filesUnder(path.join(DIST, 'ground')),
    ...filesUnder(path.join(DIST, 'model')),
    path.join(ROOT, 'templates', 'worker', 'wrangler.template.jsonc'),
    path.join(ROOT, 'package.json'),
  ];
  for (const f of files) h.update(f).update(fs.readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

export interface WorkerBundle {
  /** directory holding index.js (the uploaded module) */
  dir: string;
  scriptPath: string;
  /** the rendered wrangler config the bundle was made with */
  config: Record<string, unknown>;
}

let bundlePromise: Promise<WorkerBundle> | undefined;

/** Bundles the Worker once per set of inputs (cached in the OS temp dir). */
export function bundleWorker(): Promise<WorkerBundle> {
  bundlePromise ??= (async () => {
    ensureBuilt();
    const { renderWranglerConfig, WORKER_MAIN_PATH } = (await import(path.join(DIST, 'cloudflare', 'wrangler-config.js'))) as typeof import('../../src/cloudflare/wrangler-config.js');
    const config = renderWranglerConfig({ scriptName: 'crawl4ai-mcp-test', mainPath: WORKER_MAIN_PATH, originUrl: 'http://127.0.0.1:9' });
    const cacheRoot = path.join(os.tmpdir(), 'crawl4ai-mcp-worker-bundles');
    const dir = path.join(cacheRoot, inputsHash());
    const scriptPath = path.join(dir, 'index.js');
    if (fs.existsSync(scriptPath)) return { dir, scriptPath, config };
    fs.mkdirSync(cacheRoot, { recursive: true });
    const work = fs.mkdtempSync(path.join(cacheRoot, 'tmp-'));
    fs.writeFileSync(path.join(work, 'wrangler.json'), JSON.stringify(config));
    const out = path.join(work, 'out');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [WRANGLER, 'deploy', '--dry-run', '--outdir', out, '--config', path.join(work, 'wrangler.json')], {
        cwd: work,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', XDG_CONFIG_HOME: path.join(work, 'xdg'), CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // its own process group: wrangler.js runs cli.js as a child
      });
      const killGroup = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      };
      let log = '';
      child.stdout.on('data', (d) => (log += d));
      child.stderr.on('data', (d) => (log += d));
      // wrangler sometimes lingers after writing the bundle; the file is what we need
      const poll = setInterval(() => {
        if (fs.existsSync(path.join(out, 'index.js')) && /--dry-run: exiting now/.test(log)) {
          clearInterval(poll);
          killGroup();
          resolve();
        }
      }, 50);
      child.on('exit', (code) => {
        clearInterval(poll);
        killGroup();
        if (fs.existsSync(path.join(out, 'index.js'))) resolve();
        else reject(new Error(`wrangler deploy --dry-run failed (${code}):\n${log}`));
      });
    });
    try {
      fs.renameSync(out, dir);
    } catch {
      // another test file won the race: use its bundle
    }
    fs.rmSync(work, { recursive: true, force: true });
    return { dir, scriptPath, config };
  })();
  return bundlePromise;
}

const REGISTRY_CALL = 'c4m-test-registry-call';

export interface StartWorkerOptions {
  /** ORIGIN_URL (ignored when crawl4aiBinding is given) */
  originUrl?: string;
  /** CRAWL4AI_API_TOKEN secret */
  token?: string;
  /** the bootstrap API key (its hash becomes BOOTSTRAP_KEY_SHA256); default: a fresh key */
  apiKey?: string;
  llmEnabled?: boolean;
  /** the admin key (its hash becomes ADMIN_KEY_SHA256); default: none, the admin API is off */
  adminKey?: string;
  /** extra vars (e.g. SCREENSHOT_MAX_BYTES) */
  vars?: Record<string, string>;
  /**
   * A stand-in for the tunnel (vpc_service) binding CRAWL4AI: a Node function handling its fetches,
   * or 'down' for a binding whose fetch() throws, as a VPC service does when the tunnel is down.
   */
  crawl4aiBinding?: ((request: Request) => Promise<Response> | Response) | 'down';
  /** KEYS without SQLite storage, as a deploy without the new_sqlite_classes migration leaves it: the registry throws */
  keysWithoutSqlite?: boolean;
  /** receives the Worker's console.error / console.warn output */
  onStderr?: (text: string) => void;
  /** route the Worker's global fetch() through the edge emulator (no bare IPs, public hostnames only) */
  outbound?: { fetch(request: Request, callerZone: string): Promise<Response> };
  /** open workerd's V8 inspector on this loopback port (bench/worker-profile.mjs takes CPU profiles) */
  inspectorPort?: number;
  /**
   * Also serve the Worker on a socket of its own (Miniflare's unsafeDirectSockets), skipping
   * Miniflare's entry worker, a JS proxy in front of every request that Cloudflare's edge does
   * not have: `directUrl` (benches compare both).
   */
  directSocket?: boolean;
  /**
   * Each KeyRegistry call waits this long before it runs, as a Durable Object in another location
   * answers (tens of ms on the edge; ~0 in one local workerd): work the Worker overlaps with the
   * round trip then really runs before the answer.
   */
  registryDelayMs?: number;
  /**
   * Each KeyRegistry call (admit, verify, record) is reported with its count of usage records
   * (`record`'s, or those riding on `admit`): how many Durable Object calls the Worker makes.
   * Serves the registry from a second workerd service, as registryDelayMs does.
   */
  onRegistryCall?: (method: 'admit' | 'verify' | 'record', records: number) => void;
  /** more Miniflare workers in the same workerd (benches: reached through their `routes`) */
  extraWorkers?: Array<Record<string, unknown>>;
}

export interface RunningWorker {
  url: string;
  mcpUrl: string;
  apiKey: string;
  mf: Miniflare;
  /** the Worker's own socket, when started with directSocket */
  directUrl?: string;
  /**
   * With registryDelayMs or onRegistryCall: the registry as seen from Node. `rowsWritten`: rows its
   * SQLite took since the object started (what Durable Object storage bills); `restart`: the
   * object loses its memory and keeps its storage, as the platform may do at any time.
   */
  registry?: { rowsWritten(): Promise<number>; restart(): Promise<void> };
  close(): Promise<void>;
}

export async function startWorker(opts: StartWorkerOptions = {}): Promise<RunningWorker> {
  const bundle = await bundleWorker();
  const { generateApiKey, hashApiKey } = (await import(path.join(DIST, 'ground', 'api-key.js'))) as typeof import('../../src/ground/api-key.js');
  const apiKey = opts.apiKey ?? generateApiKey();
  const vars = (bundle.config.vars ?? {}) as Record<string, string>;
  const bindings: Record<string, string> = {
    ...vars,
    ORIGIN_URL: opts.crawl4aiBinding ? '' : (opts.originUrl ?? ''),
    LLM_ENABLED: opts.llmEnabled ? 'true' : 'false',
    CRAWL4AI_API_TOKEN: opts.token ?? '',
    BOOTSTRAP_KEY_SHA256: await hashApiKey(apiKey),
    ...(opts.adminKey ? { ADMIN_KEY_SHA256: await hashApiKey(opts.adminKey) } : {}),
    ...opts.vars,
  };
  const workerOptions: Record<string, unknown> = {
    name: 'crawl4ai-mcp',
    scriptPath: bundle.scriptPath,
    modules: true,
    modulesRoot: bundle.dir,
    compatibilityDate: bundle.config.compatibility_date,
    compatibilityFlags: bundle.config.compatibility_flags,
    bindings,
    durableObjects: { KEYS: { className: 'KeyRegistry', useSQLite: !opts.keysWithoutSqlite } },
    // the config's KV bindings (OAUTH_KV), in Miniflare's memory
    kvNamespaces: ((bundle.config.kv_namespaces ?? []) as Array<{ binding: string }>).map((k) => k.binding),
  };
  const workers: Array<Record<string, unknown>> = [workerOptions, ...(opts.extraWorkers ?? [])];
  if (opts.registryDelayMs || opts.onRegistryCall) {
    // the same KeyRegistry class, served by a second workerd service whose methods start late
    // and report each call (console.warn, picked out of the logs below)
    const delayed = `import { KeyRegistry } from './index.js';
const later = (method, records) => {
  ${opts.onRegistryCall ? 'console.warn(`${REGISTRY_CALL} ${method} ${records}`);' : ''}
  return new Promise((r) => setTimeout(r, ${Number(opts.registryDelayMs ?? 0)}));
};
export class DelayedKeyRegistry extends KeyRegistry {
  constructor(ctx, env) {
    super(ctx, env);
    // rows written to its SQLite since it started (what Durable Object storage bills), for tests
    this.rows = 0;
    const sql = ctx.storage.sql;
    const exec = sql.exec.bind(sql);
    sql.exec = (...q) => {
      const cursor = exec(...q);
      this.rows += cursor.rowsWritten;
      return cursor;
    };
  }
  rowsWritten() { return this.rows; }
  /** a restart of the object (its memory lost, its SQLite kept), as the platform may do any time */
  restart() { this.ctx.abort('restarted by the test'); }
  async admit(...a) {
    await later('admit', a[3]?.length ?? 0);
    this.inAdmit = true; // admit stores the records riding on it through this.record: no call of its own
    try { return super.admit(...a); } finally { this.inAdmit = false; }
  }
  async verify(...a) { await later('verify', 0); return super.verify(...a); }
  record(...a) { return this.inAdmit ? super.record(...a) : later('record', a[0].length).then(() => super.record(...a)); }
}
const REGISTRY_CALL = ${JSON.stringify(REGISTRY_CALL)};
export default { fetch: () => new Response('registry only', { status: 404 }) };`;
    workerOptions.durableObjects = { KEYS: { className: 'DelayedKeyRegistry', scriptName: 'delayed-registry', useSQLite: true } };
    workers.push({
      name: 'delayed-registry',
      modules: [
        { type: 'ESModule', path: path.join(bundle.dir, 'delayed-registry.js'), contents: delayed },
        { type: 'ESModule', path: bundle.scriptPath },
      ],
      modulesRoot: bundle.dir,
      compatibilityDate: bundle.config.compatibility_date,
      compatibilityFlags: bundle.config.compatibility_flags,
      durableObjects: { KEYS: { className: 'DelayedKeyRegistry', useSQLite: true } },
    });
  }
  if (opts.directSocket) workerOptions.unsafeDirectSockets = [{ host: '127.0.0.1', port: 0 }];
  const outbound = opts.outbound;
  if (outbound) workerOptions.outboundService = (req: Request) => outbound.fetch(req, 'crawl4ai-mcp-test.workers.dev');
  const binding = opts.crawl4aiBinding;
  if (binding === 'down') {
    // a workerd service that throws: the caller's fetch() rejects, like a VPC service with no tunnel
    workerOptions.serviceBindings = { CRAWL4AI: 'tunnel-down' };
    workers.push({
      name: 'tunnel-down',
      modules: true,
      compatibilityDate: bundle.config.compatibility_date,
      script: "export default { fetch() { throw new Error('ProxyError: destination_unavailable'); } }",
    });
  } else if (binding) {
    workerOptions.serviceBindings = { CRAWL4AI: async (req: Request) => binding(req) };
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const shared: Record<string, unknown> = { host: '127.0.0.1', port: 0, workers, ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort, inspectorHost: '127.0.0.1' } : {}) };
  if (opts.onStderr || opts.onRegistryCall) {
    const { onStderr, onRegistryCall } = opts;
    // workerd reports console output as structured logs (level + message)
    shared.handleStructuredLogs = (log: { level?: string; message?: string }) => {
      const message = log.message ?? '';
      const call = onRegistryCall && new RegExp(`^${REGISTRY_CALL} (admit|verify|record) (\\d+)`).exec(message);
      if (call) onRegistryCall!(call[1] as 'admit' | 'verify' | 'record', Number(call[2]));
      else if (onStderr && (log.level === 'error' || log.level === 'warn')) onStderr(`${message}\n`);
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const mf = new Miniflare(convertV4MiniflareOptions(shared as any));
  const url = (await mf.ready).href.replace(/\/$/, '');
  const directUrl = opts.directSocket ? (await mf.unsafeGetDirectURL('crawl4ai-mcp')).href.replace(/\/$/, '') : undefined;
  let registry: RunningWorker['registry'];
  if (opts.registryDelayMs || opts.onRegistryCall) {
    const ns = await mf.getDurableObjectNamespace('KEYS', 'crawl4ai-mcp');
    // the Worker's own name for its one registry (src/worker/key-auth.ts)
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const stub = ns.get(ns.idFromName('registry')) as any;
    registry = {
      rowsWritten: async () => Number(await stub.rowsWritten()),
      restart: async () => {
        await Promise.resolve(stub.restart()).catch(() => undefined); // the aborted call itself fails
      },
    };
  }
  return {
    url,
    mcpUrl: `${url}/mcp`,
    apiKey,
    mf,
    ...(directUrl ? { directUrl } : {}),
    ...(registry ? { registry } : {}),
    close: () => mf.dispose(),
  };
}

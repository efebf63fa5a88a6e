// A stateful loopback emulator of the Cloudflare API v4 that the real wrangler CLI talks to, which also runs every
// uploaded Worker in workerd (Miniflare), so end-to-end tests reach exactly the code that was deployed.
//
//   const cf = await startCloudflareEmulator({ apiToken: 't', hosts: { 'vm.example.com': 'http://127.0.0.1:4567' } });
//   wrangler env: CLOUDFLARE_API_BASE_URL=cf.apiBaseUrl CLOUDFLARE_API_TOKEN=t CLOUDFLARE_ACCOUNT_ID=cf.accountId
//   await fetch(cf.workerUrl('my-worker') + '/mcp', …)
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAccountRoutes, type AccountInfo } from './account.js';
import { DurableObjectStore } from './durable-objects.js';
import { EdgeOutbound, edgeError, forwardHttp, type HostTarget } from './edge-outbound.js';
import { CfApiError, ErrorCodes, hexId } from './envelope.js';
import { KvStore } from './kv.js';
import { Router } from './router.js';
import { registerSecretRoutes } from './secrets.js';
import { ScriptStore } from './scripts.js';
import { ContainerStore, type ContainerApplication, type ImageRunner } from './containers.js';
import { startCrawl4aiEmulator } from '../crawl4ai/index.js';
import { API_PREFIX, WORKERS_PREFIX, createEmulatorServer, type FaultRule, type RecordedRequest } from './server.js';
import { ALL_PERMISSION_GROUPS, TokenRegistry, withTokenPermissions } from './token-permissions.js';
import { TunnelStore } from './tunnels.js';
import { FaultInjector } from '../faults/injector.js';
import { VPC_ERROR_HEADER, VpcServiceStore } from './vpc-services.js';
import { WorkerRuntime, WorkerStartupError, WorkerThrewError, type WorkerLogEntry } from './worker-runtime.js';

export type { HostTarget } from './edge-outbound.js';

export interface CloudflareEmulatorOptions {
  /** default 'acc0000000000000000000000000000a' */
  accountId?: string;
  /** requests with another Bearer token -> 403 {success:false, errors:[{code:10000,message:"Authentication error"}]}; unset = any token */
  apiToken?: string;
  /** workers.dev subdomain, default 'test-user'; null = a new account that has not registered one (GET answers 404 code 10007) */
  subdomain?: string | null;
  /**
   * Permission group names (API spelling, e.g. "Workers Scripts Write") `apiToken` has; default: every group the
   * emulator knows. Enforced on every API path (token-permissions.ts): a missing group is 403 code 10000. Also
   * returned as `policies[].permission_groups[].name` by GET /user/tokens/:id and /accounts/:a/tokens/:id (the real
   * places) and by the token verify endpoints (an emulator extra).
   */
  tokenPermissions?: string[];
  /** more tokens, each with its own permission groups (e.g. one lacking "Connectivity Directory Bind") */
  extraTokens?: Record<string, string[]>;
  /**
   * hostname (or hostname:port) -> loopback base URL: the deployed Worker's outbound fetch to https://<hostname>/… is
   * sent there, as the public internet would reach the VM. `{url, untrustedCert: true}` makes https fetches get 526.
   */
  hosts?: Record<string, string | HostTarget>;
  /**
   * Cloudflare Containers: image prefix -> what runs it. Default: `docker.io/unclecode/crawl4ai:` runs a Crawl4AI
   * emulator with the CRAWL4AI_API_TOKEN the container was started with; any other image is "not found".
   */
  containerImages?: Record<string, ImageRunner>;
  /** a container instance is "not listening" for this long after it starts (the cold start); default 0 */
  containerColdStartMs?: number;
  /** false: the account is on a plan without Containers (Workers Free): every containers call is refused */
  containersAllowed?: boolean;
}

export interface CloudflareEmulator {
  /** http://127.0.0.1:PORT/client/v4 (give to wrangler as CLOUDFLARE_API_BASE_URL) */
  apiBaseUrl: string;
  accountId: string;
  /** `${base}/__workers/<script>`: the emulator strips that prefix and dispatches to the script's Worker */
  workerUrl(script: string): string;
  /** 'http://127.0.0.1:PORT/__workers/{script}' */
  workersUrlTemplate: string;
  /** add (or with null remove) a public hostname route at runtime */
  setHost(hostname: string, baseUrl: string | HostTarget | null): void;
  close(): Promise<void>;
  // inspection for tests
  scripts(): string[];
  kvNamespaces(): Array<{ id: string; title: string }>;
  secretsOf(script: string): string[];
  /** `connections` = number of connectors (cloudflared processes) registered */
  tunnels(): Array<{ id: string; name: string; deleted: boolean; connections: number }>;
  vpcServices(): Array<{ service_id: string; name: string; tunnel_id: string; ipv4?: string; http_port?: number }>;
  durableObjectNamespaces(): Array<{ id: string; script: string; class: string; use_sqlite: boolean }>;
  /** container applications, as the API holds them */
  containerApplications(): ContainerApplication[];
  /** running container instances (`ready` once the cold start has passed) */
  containerInstances(appName?: string): Array<{ app: string; doId: string; ready: boolean }>;
  /** the cold start of instances started from now on */
  setContainerColdStart(ms: number): void;
  /** switch the account's plan: false = Containers not allowed */
  setContainersAllowed(allowed: boolean): void;
  /**
   * Simulates cloudflared on the VM: registers a connector for the tunnel, so `vpc_service` bindings on it route to
   * `targetBaseUrl` (a loopback stand-in for 127.0.0.1:<port> on the VM). disconnectTunnel removes all connectors.
   */
  connectTunnel(tunnelId: string, targetBaseUrl: string): void;
  disconnectTunnel(tunnelId: string): void;
  /** every API request, in order */
  requests: Array<{ method: string; path: string; query: string; status?: number }>;
  /** API requests no route matched (answered 404 code 7003): a test can assert this stays empty */
  unhandledRequests: Array<{ method: string; path: string; query: string }>;
  /** console output and uncaught exceptions of the Workers */
  workerLogs: WorkerLogEntry[];
  /** Workers currently running in workerd */
  runningWorkers(): string[];
  /** fault injection: `faults.failCall(/^DELETE \/accounts\/[^/]+\/cfd_tunnel\//, 1, 'lost')`; calls are "METHOD /path below /client/v4" */
  faults: FaultInjector;
  /** the next request matching method ('*' = any) and path (below /client/v4) gets this error; e.g. 429 / 971 */
  failNext(method: string, pathPattern: RegExp, status: number, code: number, opts?: { retryAfter?: number; message?: string }): void;
}

export async function startCloudflareEmulator(opts: CloudflareEmulatorOptions = {}): Promise<CloudflareEmulator> {
  const accountId = opts.accountId ?? 'acc0000000000000000000000000000a';
  const info: AccountInfo = {
    accountId,
    accountName: "Test User's Account",
    email: 'user@example.com',
    tokens: new TokenRegistry(opts.apiToken, opts.tokenPermissions ?? ALL_PERMISSION_GROUPS, opts.extraTokens),
    subdomain: opts.subdomain === null ? '' : (opts.subdomain ?? 'test-user'),
  };
  const tmp = await mkdtemp(join(tmpdir(), 'cf-emulator-'));
  const persistDir = join(tmp, 'persist');

  const requests: RecordedRequest[] = [];
  const unhandled: RecordedRequest[] = [];
  const faults: FaultRule[] = [];
  const injector = new FaultInjector();
  const edge = new EdgeOutbound(opts.hosts ?? {});
  const tunnels = new TunnelStore(accountId);
  const vpc = new VpcServiceStore(tunnels);
  const durableObjects = new DurableObjectStore(accountId);
  const defaultImages: Record<string, ImageRunner> = {
    'docker.io/unclecode/crawl4ai:': async (env) => {
      const c4 = await startCrawl4aiEmulator({ token: env.CRAWL4AI_API_TOKEN || 'no-token-given' });
      return { url: c4.url, close: () => c4.close() };
    },
  };
  const containers = new ContainerStore(accountId, durableObjects, opts.containerImages ?? defaultImages, opts.containerColdStartMs ?? 0);
  if (opts.containersAllowed === false) containers.planAllowsContainers = false;
  const hostnameOf = (script: string): string => `${script}.${info.subdomain}.workers.dev`;

  // the runtime and the stores refer to each other through these late-bound functions
  let scripts: ScriptStore;
  let kv: KvStore;
  const runtime: WorkerRuntime = new WorkerRuntime({
    persistDir,
    hostnameOf,
    activeVersion: (script) => scripts.activeVersion(script),
    durableObjectUsesSqlite: (script, className) => durableObjects.find(script, className)?.use_sqlite ?? false,
    kvNamespaceIds: () => kv.list().map((ns) => ns.id),
    edgeFetch: (request, zone) => edge.fetch(request, zone),
    vpcServiceConnect: (serviceId, request) => vpc.connect(serviceId, request),
    vpcNetworkConnect: async (tunnelId, request) => {
      const target = tunnels.activeTarget(tunnelId);
      const fail = (code: string): Response => new Response(null, { status: 502, headers: { [VPC_ERROR_HEADER]: code } });
      if (!target) return fail('destination_unavailable');
      const outcome = await forwardHttp(request, target, { hostHeader: new URL(request.url).host });
      if ('response' in outcome) return outcome.response;
      return fail(outcome.error === 'refused' ? 'connection_refused' : outcome.error === 'timeout' ? 'connection_timeout' : 'connection_terminated');
    },
    dispatch: (script, request) => runtime.fetch(script, request),
    containerClasses: (script) => durableObjects.classesOf(script).map((ns) => ns.class).filter((c) => containers.applicationFor(script, c) !== undefined),
    containerConnect: (script, className, request) => containers.connect(script, className, request),
  });
  kv = new KvStore((namespaceId) => runtime.kvNamespace(namespaceId));
  scripts = new ScriptStore(durableObjects, {
    onDeployed: () => {
      // the runtime notices the new serving version on the next request and restarts then
    },
    onDeleted: (script, classes) => void runtime.remove(script, classes),
  });
  scripts.addValidator((binding) => {
    if (binding.type === 'kv_namespace' && !kv.has(String(binding.namespace_id))) {
      throw new CfApiError(400, 10041, `KV namespace '${String(binding.namespace_id)}' is not valid.`);
    }
    if (binding.type === 'vpc_service' && !vpc.get(String(binding.service_id))) {
      throw new CfApiError(400, ErrorCodes.scriptValidation, `binding ${binding.name} of type vpc_service references unknown service '${String(binding.service_id)}'`);
    }
    if (binding.type === 'vpc_network' && binding.tunnel_id !== undefined && !tunnels.get(String(binding.tunnel_id))) {
      throw new CfApiError(400, ErrorCodes.scriptValidation, `binding ${binding.name} of type vpc_network references unknown tunnel '${String(binding.tunnel_id)}'`);
    }
  });

  const router = new Router();
  registerAccountRoutes(router, info);
  scripts.register(router);
  registerSecretRoutes(router, scripts);
  kv.register(router);
  durableObjects.register(router);
  tunnels.register(router);
  vpc.register(router);
  containers.register(router);

  const server = createEmulatorServer({
    router: withTokenPermissions(router, info.tokens),
    accountId,
    // with several tokens the registry tells them apart; the server's single-token check would refuse the others
    ...(opts.apiToken !== undefined && !info.tokens.hasExtraTokens ? { apiToken: opts.apiToken } : {}),
    requests,
    unhandled,
    faults,
    injector,
    scriptForHost: (host) => {
      const suffix = `.${info.subdomain}.workers.dev`;
      const name = host.replace(/:\d+$/, '');
      return name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    },
    serveWorker: async (script, incoming, pathAndQuery, body) => {
      const record = scripts.get(script);
      if (!record || !record.workersDev.enabled || !scripts.activeVersion(script)) {
        return new Response('There is nothing here yet', { status: 404, headers: { 'content-type': 'text/plain' } });
      }
      const headers = new Headers();
      for (const [key, value] of Object.entries(incoming.headers)) {
        if (value === undefined || ['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(key)) continue;
        for (const v of Array.isArray(value) ? value : [value]) headers.append(key, v);
      }
      const clientIp = (incoming.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
      headers.set('cf-connecting-ip', clientIp);
      headers.set('x-real-ip', clientIp);
      headers.set('x-forwarded-proto', 'https');
      headers.set('cf-ipcountry', 'GB');
      headers.set('cf-ray', `${hexId().slice(0, 16)}-LHR`);
      const method = (incoming.method ?? 'GET').toUpperCase();
      const request = new Request(`https://${hostnameOf(script)}${pathAndQuery}`, {
        method,
        headers,
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: new Uint8Array(body) }),
      });
      try {
        return await runtime.fetch(script, request);
      } catch (error) {
        if (error instanceof WorkerThrewError || error instanceof WorkerStartupError) {
          if (error instanceof WorkerStartupError) runtime.logs.push({ script, level: 'error', message: error.message });
          return edgeError(500, 1101);
        }
        throw error;
      }
    },
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;

  let closed = false;
  return {
    apiBaseUrl: `${base}${API_PREFIX}`,
    accountId,
    workerUrl: (script) => `${base}${WORKERS_PREFIX}${encodeURIComponent(script)}`,
    workersUrlTemplate: `${base}${WORKERS_PREFIX}{script}`,
    setHost: (hostname, target) => edge.setHost(hostname, target),
    async close() {
      if (closed) return;
      closed = true;
      await runtime.close();
      await containers.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    },
    scripts: () => scripts.names(),
    kvNamespaces: () => kv.list().map(({ id, title }) => ({ id, title })),
    secretsOf: (script) => scripts.secretsOf(script),
    tunnels: () => tunnels.list().map((t) => ({ id: t.id, name: t.name, deleted: t.deletedAt !== null, connections: t.connectors.length })),
    vpcServices: () =>
      vpc.list().map((s) => ({
        service_id: s.service_id,
        name: s.name,
        tunnel_id: vpc.tunnelOf(s) ?? '',
        ...(s.host.ipv4 !== undefined ? { ipv4: s.host.ipv4 } : {}),
        ...(s.http_port !== undefined ? { http_port: s.http_port } : {}),
      })),
    containerApplications: () => containers.list(),
    containerInstances: (appName) => containers.instances(appName),
    setContainerColdStart: (ms) => {
      containers.coldStartMs = ms;
    },
    setContainersAllowed: (allowed) => {
      containers.planAllowsContainers = allowed;
    },
    durableObjectNamespaces: () => durableObjects.list().map(({ id, script, class: className, use_sqlite }) => ({ id, script, class: className, use_sqlite })),
    connectTunnel: (tunnelId, target) => tunnels.connect(tunnelId, target),
    disconnectTunnel: (tunnelId) => tunnels.disconnect(tunnelId),
    requests,
    unhandledRequests: unhandled,
    workerLogs: runtime.logs,
    runningWorkers: () => runtime.running(),
    faults: injector,
    failNext(method, pathPattern, status, code, failOpts) {
      faults.push({
        method,
        pathPattern,
        status,
        code,
        ...(failOpts?.retryAfter !== undefined ? { retryAfter: failOpts.retryAfter } : {}),
        ...(failOpts?.message !== undefined ? { message: failOpts.message } : {}),
      });
    },
  };
}

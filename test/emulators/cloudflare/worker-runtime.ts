// Runs each deployed Worker in its own workerd (Miniflare), started on the first request to it and restarted when a
// new version serves (deploy, secret change). Storage (KV, Durable Objects) lives in one persistence directory per
// emulator, so it survives redeploys; a Durable Object's storage is keyed by script + class as in production.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import type { ScriptVersion } from './scripts.js';
import type { UploadedModule, WorkerBinding } from './upload.js';
import { VPC_ERROR_HEADER } from './vpc-services.js';
import { CONTAINER_STANDIN_SOURCE } from './containers.js';
import type { KvNamespaceData } from './kv.js';

type FetchHandler = (request: Request) => Promise<Response>;

export interface RuntimeDeps {
  persistDir: string;
  /** `<script>.<subdomain>.workers.dev` */
  hostnameOf(script: string): string;
  activeVersion(script: string): ScriptVersion | undefined;
  durableObjectUsesSqlite(script: string, className: string): boolean;
  kvNamespaceIds(): string[];
  edgeFetch(request: Request, callerZone: string): Promise<Response>;
  vpcServiceConnect(serviceId: string, request: Request): Promise<Response>;
  vpcNetworkConnect(tunnelId: string, request: Request): Promise<Response>;
  /** Durable Object classes of the script that a container application names */
  containerClasses(script: string): string[];
  /** the stand-in `ctx.container` of such a class (containers.ts) */
  containerConnect(script: string, className: string, request: Request): Promise<Response>;
  /** a `service` binding: fetch into another deployed Worker */
  dispatch(script: string, request: Request): Promise<Response>;
}

export interface WorkerLogEntry {
  script: string;
  level: string;
  message: string;
}

/** The Worker could not start (the real API would have refused the upload with 10021). */
export class WorkerStartupError extends Error {}

/** Uncaught exception in the Worker: production answers 500 with error 1101. */
export class WorkerThrewError extends Error {}

interface Instance {
  versionId: string;
  mf: Miniflare;
}

// Stand-in for a vpc_service / vpc_network binding: forwards to the connector in Node, and turns the connector's
// "no route" answer into an exception inside the calling Worker, as production's fetch() throws ProxyError.
const VPC_STANDIN_SOURCE = `export default {
  async fetch(request, env) {
    const response = await env.CONNECTOR.fetch(request);
    const code = response.headers.get(${JSON.stringify(VPC_ERROR_HEADER)});
    if (code !== null) throw new Error("ProxyError: " + code);
    return response;
  },
};`;

/** Header by which the entry wrapper marks a response that stands for an uncaught exception. */
const UNCAUGHT_HEADER = 'cf-emulator-uncaught-exception';
const ENTRY_WRAPPER = '__emulator_entry__.js';

// The Worker's main module is imported by a wrapper entry that re-exports everything (Durable Object classes,
// named entrypoints) and turns an exception thrown by the fetch handler into a marked 500, which the emulator
// answers as the edge does (error 1101). Miniflare alone would show the stack trace to the client.
const CONTAINER_STANDIN = '__emulator_container__.js';
const containerHostBinding = (className: string): string => `__EMULATOR_CONTAINER_${className}`;

// A container-enabled Durable Object class gets the stand-in `ctx.container` before its constructor runs (workerd
// here has no container runtime; in production the platform provides it).
function containerClassSource(className: string): string {
  const host = JSON.stringify(containerHostBinding(className));
  return `export class ${className} extends userModule.${className} {
  constructor(ctx, env) {
    if (ctx.container === undefined) Object.defineProperty(ctx, "container", { value: emulatedContainer(env[${host}], ctx.id.toString()) });
    super(ctx, env);
  }
}
`;
}

function entryWrapperSource(mainModule: string, containerClasses: string[] = []): string {
  const spec = JSON.stringify(`./${mainModule}`);
  return `import * as userModule from ${spec};
export * from ${spec};
${containerClasses.length ? `import { emulatedContainer } from "./${CONTAINER_STANDIN}";
${containerClasses.map(containerClassSource).join('')}` : ''}
const inner = userModule.default;
const uncaught = (error) => new Response(String((error && error.stack) || error), { status: 500, headers: { ${JSON.stringify(UNCAUGHT_HEADER)}: "1" } });
let wrapped = inner;
if (typeof inner === "function" && inner.prototype && typeof inner.prototype.fetch === "function") {
  wrapped = class extends inner {
    async fetch(request) {
      try { return await super.fetch(request); } catch (error) { return uncaught(error); }
    }
  };
} else if (inner && typeof inner === "object" && typeof inner.fetch === "function") {
  wrapped = Object.create(inner);
  wrapped.fetch = async function (request, env, ctx) {
    try { return await inner.fetch.call(inner, request, env, ctx); } catch (error) { return uncaught(error); }
  };
}
export default wrapped;
`;
}

const DEFAULT_CF = {
  colo: 'LHR',
  country: 'GB',
  city: 'London',
  continent: 'EU',
  asn: 64496,
  asOrganization: 'Emulator',
  httpProtocol: 'HTTP/1.1',
  tlsVersion: 'TLSv1.3',
  tlsCipher: 'AEAD-AES128-GCM-SHA256',
  clientTcpRtt: 1,
};

export class WorkerRuntime {
  readonly #instances = new Map<string, Instance>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #kvAdmin: { ids: string; mf: Miniflare | null } = { ids: '', mf: null };
  #closed = false;
  readonly logs: WorkerLogEntry[] = [];

  constructor(private readonly deps: RuntimeDeps) {}

  /** Runs `fn` after every earlier call for the same key has finished. */
  async #serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }

  running(): string[] {
    return [...this.#instances.keys()];
  }

  /** Dispatches a request (whose URL is already the Worker's public URL) to the Worker's serving version. */
  async fetch(script: string, request: Request): Promise<Response> {
    const mf = await this.#instance(script);
    const headers = new Headers(request.headers);
    headers.delete(UNCAUGHT_HEADER);
    // an exception outside the wrapped fetch handler surfaces as an exception here, not as a pretty error page
    headers.set('MF-Disable-Pretty-Error', 'true');
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    let response: Response;
    try {
      response = (await mf.dispatchFetch(request.url, {
        method: request.method,
        headers,
        body: hasBody ? Buffer.from(await request.arrayBuffer()) : undefined,
        redirect: 'manual',
        ...(hasBody ? { duplex: 'half' } : {}),
      } as never)) as unknown as Response;
    } catch (error) {
      this.logs.push({ script, level: 'error', message: `Uncaught exception: ${(error as Error).stack ?? String(error)}` });
      throw new WorkerThrewError((error as Error).message);
    }
    if (response.headers.get(UNCAUGHT_HEADER) !== null) {
      const stack = await response.text();
      this.logs.push({ script, level: 'error', message: `Uncaught exception: ${stack}` });
      throw new WorkerThrewError(stack.split('\n')[0] ?? 'Worker threw exception');
    }
    return response;
  }

  async #instance(script: string): Promise<Miniflare> {
    if (this.#closed) throw new Error('Cloudflare emulator is closed');
    return await this.#serialize(script, async () => {
      const version = this.deps.activeVersion(script);
      if (!version) throw new WorkerStartupError(`Worker ${script} has no deployed version`);
      const existing = this.#instances.get(script);
      if (existing?.versionId === version.id) return existing.mf;
      if (existing) {
        this.#instances.delete(script);
        await existing.mf.dispose().catch(() => undefined);
      }
      const mf = new Miniflare(convertV4MiniflareOptions(this.#options(script, version) as never));
      try {
        await mf.ready;
      } catch (error) {
        await mf.dispose().catch(() => undefined);
        throw new WorkerStartupError(`Worker ${script} failed to start: ${(error as Error).message}`);
      }
      if (this.#closed) {
        await mf.dispose().catch(() => undefined);
        throw new Error('Cloudflare emulator is closed');
      }
      this.#instances.set(script, { versionId: version.id, mf });
      return mf;
    });
  }

  /**
   * Stops the Worker and drops the storage of its Durable Objects, which the platform deletes with the namespaces.
   * (Miniflare keeps a Durable Object class's storage under `<persist>/do/<worker name>-<class>`.)
   */
  async remove(script: string, durableObjectClasses: string[]): Promise<void> {
    await this.#serialize(script, async () => {
      const existing = this.#instances.get(script);
      this.#instances.delete(script);
      await existing?.mf.dispose().catch(() => undefined);
      await Promise.all(
        durableObjectClasses.map((className) => rm(join(this.deps.persistDir, 'do', `${script}-${className}`), { recursive: true, force: true })),
      );
    });
  }

  /** A KVNamespace for the API's key/value endpoints, from a small Worker-less instance on the same storage. */
  async kvNamespace(namespaceId: string): Promise<KvNamespaceData> {
    return await this.#serialize('\u0000kv-admin', async () => {
      if (this.#closed) throw new Error('Cloudflare emulator is closed');
      const ids = this.deps.kvNamespaceIds();
      if (!ids.includes(namespaceId)) ids.push(namespaceId);
      const key = ids.sort().join(',');
      if (this.#kvAdmin.mf === null || this.#kvAdmin.ids !== key) {
        await this.#kvAdmin.mf?.dispose().catch(() => undefined);
        this.#kvAdmin.mf = null;
        const mf = new Miniflare(
          convertV4MiniflareOptions({
            name: '__kv_admin',
            modules: true,
            script: 'export default { fetch() { return new Response(null, { status: 404 }); } }',
            compatibilityDate: '2026-11-01',
            kvNamespaces: Object.fromEntries(ids.map((id) => [`NS_${id}`, id])),
            resourcePersistencePath: this.deps.persistDir,
            host: '127.0.0.1',
            port: 0,
            cf: DEFAULT_CF,
            telemetry: { enabled: false },
          } as never),
        );
        await mf.ready;
        if (this.#closed) {
          await mf.dispose().catch(() => undefined);
          throw new Error('Cloudflare emulator is closed');
        }
        this.#kvAdmin.ids = key;
        this.#kvAdmin.mf = mf;
      }
      return (await this.#kvAdmin.mf!.getKVNamespace(`NS_${namespaceId}`)) as unknown as KvNamespaceData;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    // let starts in flight finish (they see #closed and dispose themselves), then dispose everything
    await Promise.allSettled([...this.#locks.values()]);
    const all = [...this.#instances.values()].map((i) => i.mf);
    this.#instances.clear();
    if (this.#kvAdmin.mf) all.push(this.#kvAdmin.mf);
    this.#kvAdmin.mf = null;
    await Promise.allSettled(all.map((mf) => mf.dispose()));
  }

  #options(script: string, version: ScriptVersion): Record<string, unknown> {
    const zone = this.deps.hostnameOf(script);
    const bindings: Record<string, unknown> = {};
    const kvNamespaces: Record<string, string> = {};
    const durableObjects: Record<string, { className: string; useSQLite: boolean }> = {};
    const serviceBindings: Record<string, string | FetchHandler> = {};
    const standIns: Array<Record<string, unknown>> = [];
    const addStandIn = (binding: string, connect: FetchHandler): void => {
      const name = `__vpc_standin_${binding}`;
      serviceBindings[binding] = name;
      standIns.push({
        name,
        modules: [{ type: 'ESModule', path: `/${name}/index.js`, contents: VPC_STANDIN_SOURCE }],
        modulesRoot: `/${name}`,
        compatibilityDate: '2026-11-01',
        serviceBindings: { CONNECTOR: connect },
      });
    };
    for (const b of version.bindings) this.#bind(script, version, b, { bindings, kvNamespaces, durableObjects, serviceBindings, addStandIn });

    const root = `/${script}`;
    const modules = version.modules
      .filter((m) => m.kind !== 'PythonModule' && m.kind !== 'PythonRequirement')
      .map((m) => ({ type: m.kind, path: `${root}/${m.name}`, contents: moduleContents(m) }));
    const main = version.modules[0];
    const containerClasses = this.deps.containerClasses(script).filter((c) => /^[A-Za-z_$][\w$]*$/.test(c));
    if (main?.kind === 'ESModule') {
      modules.unshift({ type: 'ESModule', path: `${root}/${ENTRY_WRAPPER}`, contents: entryWrapperSource(main.name, containerClasses) });
      if (containerClasses.length) modules.push({ type: 'ESModule', path: `${root}/${CONTAINER_STANDIN}`, contents: CONTAINER_STANDIN_SOURCE });
      for (const className of containerClasses) {
        serviceBindings[containerHostBinding(className)] = (request) => this.deps.containerConnect(script, className, request);
      }
    }
    return {
      workers: [
        {
          name: script,
          modules,
          modulesRoot: root,
          compatibilityDate: version.compatibilityDate ?? '2021-11-03',
          compatibilityFlags: version.compatibilityFlags,
          bindings,
          kvNamespaces,
          durableObjects,
          serviceBindings,
          outboundService: (request: Request) => this.deps.edgeFetch(request, zone),
        },
        ...standIns,
      ],
      resourcePersistencePath: this.deps.persistDir,
      host: '127.0.0.1',
      port: 0,
      cf: DEFAULT_CF,
      telemetry: { enabled: false },
      handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
        this.logs.push({ script, level, message });
        if (this.logs.length > 2000) this.logs.splice(0, this.logs.length - 2000);
      },
    };
  }

  #bind(
    script: string,
    version: ScriptVersion,
    b: WorkerBinding,
    out: {
      bindings: Record<string, unknown>;
      kvNamespaces: Record<string, string>;
      durableObjects: Record<string, { className: string; useSQLite: boolean }>;
      serviceBindings: Record<string, string | FetchHandler>;
      addStandIn: (binding: string, connect: FetchHandler) => void;
    },
  ): void {
    switch (b.type) {
      case 'plain_text':
      case 'secret_text':
        out.bindings[b.name] = String(b.text ?? '');
        return;
      case 'json':
        out.bindings[b.name] = b.json ?? null;
        return;
      case 'version_metadata':
        out.bindings[b.name] = { id: version.id, tag: '', timestamp: version.createdOn };
        return;
      case 'kv_namespace':
        out.kvNamespaces[b.name] = String(b.namespace_id);
        return;
      case 'durable_object_namespace': {
        const className = String(b.class_name);
        if (b.script_name && b.script_name !== script) {
          this.logs.push({ script, level: 'warn', message: `emulator: Durable Object binding ${b.name} to another script (${String(b.script_name)}) is not emulated` });
          return;
        }
        out.durableObjects[b.name] = { className, useSQLite: this.deps.durableObjectUsesSqlite(script, className) };
        return;
      }
      case 'service': {
        const target = String(b.service);
        out.serviceBindings[b.name] = (request) => this.deps.dispatch(target, request);
        return;
      }
      case 'vpc_service': {
        const serviceId = String(b.service_id);
        out.addStandIn(b.name, (request) => this.deps.vpcServiceConnect(serviceId, request));
        return;
      }
      case 'vpc_network': {
        const tunnelId = String(b.tunnel_id ?? '');
        out.addStandIn(b.name, (request) => this.deps.vpcNetworkConnect(tunnelId, request));
        return;
      }
      default:
        this.logs.push({ script, level: 'warn', message: `emulator: binding ${b.name} of type ${b.type} is not emulated` });
    }
  }
}

function moduleContents(m: UploadedModule): string | Uint8Array {
  if (m.kind === 'ESModule' || m.kind === 'CommonJS' || m.kind === 'Text') return new TextDecoder().decode(m.contents);
  return m.contents;
}

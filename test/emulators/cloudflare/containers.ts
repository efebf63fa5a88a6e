// Cloudflare Containers: the container applications API (`/accounts/:a/containers/...`, the v4 envelope, as
// wrangler's generated client reads it) and the instances behind a container-enabled Durable Object.
//
// `wrangler deploy` (4.164) with a `containers` entry, after the script upload: GET …/workers/scripts/S/versions/V
// (the Durable Object binding's namespace_id) · GET …/containers/applications · POST (new) or PATCH …/:id plus
// POST …/:id/rollouts (changed) · then workers.dev. `wrangler delete` lists applications and only warns: the
// application stays (and would bill) until DELETE …/containers/applications/:id.
//
// Instances: workerd has no container runtime here, so the emulator gives each Durable Object of a class that an
// application names a stand-in `ctx.container` (worker-runtime.ts) whose calls come to `connect` below. An instance
// starts when the Durable Object calls start() (with the env the class passes), is "not listening" for
// `coldStartMs`, then answers on its port from a process the image runner started (by default a Crawl4AI emulator
// with the CRAWL4AI_API_TOKEN the container got). At most `max_instances` run at once; scaling down or deleting the
// application stops the instances beyond it.
import { CfApiError, nowIso, paginate, uuid } from './envelope.js';
import { forwardHttp } from './edge-outbound.js';
import { jsonBody, type Router } from './router.js';
import type { DurableObjectStore } from './durable-objects.js';

/** A running image: where its port answers, and how to stop it. */
export interface RunningImage {
  url: string;
  close(): Promise<void>;
}
/** Starts a process for an image, given the env the Durable Object passed to start(). */
export type ImageRunner = (env: Record<string, string>) => Promise<RunningImage>;

export interface ContainerApplication {
  id: string;
  name: string;
  account_id: string;
  created_at: string;
  version: number;
  scheduling_policy: string;
  instances: number;
  max_instances: number;
  configuration: { image: string; instance_type?: string; vcpu?: number; memory_mib?: number; disk?: { size_mb: number } } & Record<string, unknown>;
  durable_objects: { namespace_id: string };
  constraints?: Record<string, unknown>;
  rollout_active_grace_period?: number;
}

interface Instance {
  app: string;
  doId: string;
  readyAt: number;
  image: Promise<RunningImage>;
}

/** Known instance types (developers.cloudflare.com/containers/platform/limits, read 2026-12). */
export const INSTANCE_TYPES: Readonly<Record<string, { vcpu: number; memoryMib: number; diskMb: number }>> = {
  lite: { vcpu: 1 / 16, memoryMib: 256, diskMb: 2000 },
  basic: { vcpu: 1 / 4, memoryMib: 1024, diskMb: 4000 },
  'standard-1': { vcpu: 1 / 2, memoryMib: 4096, diskMb: 8000 },
  'standard-2': { vcpu: 1, memoryMib: 6144, diskMb: 12000 },
  'standard-3': { vcpu: 2, memoryMib: 8192, diskMb: 16000 },
  'standard-4': { vcpu: 4, memoryMib: 12288, diskMb: 20000 },
};

/** Header by which `connect` tells the stand-in `ctx.container` to throw, with this error text. */
export const CONTAINER_ERROR_HEADER = 'cf-emulator-container-error';
/** ... and that the instance is gone (the stand-in then reports the container stopped). */
export const CONTAINER_EXITED_HEADER = 'cf-emulator-container-exited';

// The platform's messages, as @cloudflare/containers matches them (lower-cased substrings).
const NO_INSTANCE = 'There is no container instance that can be provided to this Durable Object';
const NOT_LISTENING = 'The container is not listening in the TCP address 10.0.0.1:';

/** The code and message the API gives an account without Containers (a Workers Free plan). */
export const PLAN_NOT_ALLOWED = { status: 403, code: 1001, message: 'Containers are not available on your plan: they need the Workers Paid plan' };

export class ContainerStore {
  readonly #apps = new Map<string, ContainerApplication>();
  readonly #instances = new Map<string, Instance>();
  /** false: the account's plan does not include Containers (every containers call is refused) */
  planAllowsContainers = true;
  /** cold start of a new instance: "not listening" until this has passed */
  coldStartMs: number;

  constructor(
    private readonly accountId: string,
    private readonly durableObjects: DurableObjectStore,
    private readonly images: Record<string, ImageRunner>,
    coldStartMs = 0,
  ) {
    this.coldStartMs = coldStartMs;
  }

  list(): ContainerApplication[] {
    return [...this.#apps.values()];
  }

  /** running instances per application name */
  instances(appName?: string): Array<{ app: string; doId: string; ready: boolean }> {
    return [...this.#instances.values()]
      .filter((i) => appName === undefined || this.#apps.get(i.app)?.name === appName)
      .map((i) => ({ app: this.#apps.get(i.app)?.name ?? i.app, doId: i.doId, ready: Date.now() >= i.readyAt }));
  }

  /** The application whose Durable Object namespace is this script's class, if any. */
  applicationFor(script: string, className: string): ContainerApplication | undefined {
    const ns = this.durableObjects.find(script, className);
    return ns ? this.list().find((a) => a.durable_objects.namespace_id === ns.id) : undefined;
  }

  /** The application as the API shows it: with the health of its instances. */
  #json(app: ContainerApplication): Record<string, unknown> {
    const mine = this.instances().filter((i) => i.app === app.name);
    const healthy = mine.filter((i) => i.ready).length;
    return { ...app, health: { instances: { healthy, failed: 0, starting: mine.length - healthy, scheduling: 0 } } };
  }

  #runnerFor(image: string): ImageRunner | undefined {
    const hit = Object.keys(this.images).find((prefix) => image.startsWith(prefix));
    return hit ? this.images[hit] : undefined;
  }

  #require(id: string): ContainerApplication {
    const app = this.#apps.get(id);
    if (!app) throw new CfApiError(404, 1000, 'Application not found');
    return app;
  }

  #validate(body: Partial<ContainerApplication>, creating: boolean): void {
    const image = body.configuration?.image;
    if (creating && (!body.name || !image || !body.durable_objects?.namespace_id)) {
      throw new CfApiError(400, 1003, 'An application needs a name, configuration.image and durable_objects.namespace_id');
    }
    if (image !== undefined) {
      if (!/^[a-z0-9.-]+(:\d+)?\//.test(image)) throw new CfApiError(400, 1003, `image "${image}" must name its registry`);
      if (!this.#runnerFor(image)) throw new CfApiError(400, 1004, `image "${image}" was not found in its registry (check the repository and tag)`);
    }
    const type = body.configuration?.instance_type;
    if (type !== undefined && !INSTANCE_TYPES[type]) throw new CfApiError(400, 1003, `unknown instance_type "${type}"`);
    if (body.max_instances !== undefined && (!Number.isInteger(body.max_instances) || body.max_instances < 0)) {
      throw new CfApiError(400, 1003, 'max_instances must be a whole number >= 0');
    }
    const nsId = body.durable_objects?.namespace_id;
    if (nsId !== undefined && !this.durableObjects.list().some((ns) => ns.id === nsId)) {
      throw new CfApiError(400, 1003, `durable object namespace ${nsId} does not exist`);
    }
  }

  register(router: Router): void {
    const base = '/accounts/:account/containers';
    const guard = (): void => {
      if (!this.planAllowsContainers) throw new CfApiError(PLAN_NOT_ALLOWED.status, PLAN_NOT_ALLOWED.code, PLAN_NOT_ALLOWED.message);
    };
    router.on('GET', `${base}/me`, () => {
      guard();
      return { result: { account_id: this.accountId, external_account_id: this.accountId, limits: { account_id: this.accountId, vcpu_per_deployment: 4, memory_mib_per_deployment: 12288, disk_mb_per_deployment: 20000, total_vcpu: 1500, total_memory_mib: 6291456 }, locations: [], defaults: { vcpus: 1, memory_mib: 6144 } } };
    });
    router.on('GET', `${base}/applications`, (req) => {
      guard();
      const name = req.query.get('name');
      const apps = this.list().filter((a) => name === null || a.name === name);
      const page = paginate(apps, req.query, 1000, 1000);
      return { result: page.result.map((a) => this.#json(a)), resultInfo: page.resultInfo };
    });
    router.on('POST', `${base}/applications`, (req) => {
      guard();
      const body = jsonBody<Partial<ContainerApplication>>(req);
      this.#validate(body, true);
      if (this.list().some((a) => a.name === body.name)) throw new CfApiError(409, 1005, `an application named ${body.name} already exists`);
      // the API keeps what it was given (observability, affinities, …) and echoes it: wrangler diffs against it
      const app: ContainerApplication = {
        ...(body as Record<string, unknown>),
        id: uuid(),
        name: body.name!,
        account_id: this.accountId,
        created_at: nowIso(),
        version: 1,
        scheduling_policy: body.scheduling_policy ?? 'default',
        instances: 0,
        max_instances: body.max_instances ?? 1,
        configuration: body.configuration!,
        durable_objects: body.durable_objects!,
        ...(body.constraints ? { constraints: body.constraints } : {}),
        ...(body.rollout_active_grace_period !== undefined ? { rollout_active_grace_period: body.rollout_active_grace_period } : {}),
      };
      this.#apps.set(app.id, app);
      return { status: 201, result: this.#json(app) };
    });
    router.on('GET', `${base}/applications/:id`, (req) => {
      guard();
      return { result: this.#json(this.#require(req.params.id!)) };
    });
    router.on('PATCH', `${base}/applications/:id`, async (req) => {
      guard();
      const app = this.#require(req.params.id!);
      const body = jsonBody<Partial<ContainerApplication>>(req);
      this.#validate(body, false);
      const { configuration, ...rest } = body;
      Object.assign(app, rest);
      if (configuration) app.configuration = { ...app.configuration, ...configuration };
      app.version++;
      await this.#trim(app);
      return { result: this.#json(app) };
    });
    router.on('POST', `${base}/applications/:id/rollouts`, (req) => {
      guard();
      const app = this.#require(req.params.id!);
      const body = jsonBody<Record<string, unknown>>(req);
      return { result: { id: uuid(), created_at: nowIso(), kind: body.kind ?? 'full_auto', strategy: body.strategy ?? 'rolling', current_version: app.version - 1, target_version: app.version, status: 'progressing', health: { instances: { healthy: 0, failed: 0, starting: 0, scheduling: 0 } } } };
    });
    router.on('DELETE', `${base}/applications/:id`, async (req) => {
      guard();
      const app = this.#require(req.params.id!);
      this.#apps.delete(app.id);
      await this.#trim(app, 0);
      return { result: {} };
    });
  }

  /** Stops the instances of `app` beyond its max_instances (or `keep`). */
  async #trim(app: ContainerApplication, keep = app.max_instances): Promise<void> {
    const mine = [...this.#instances.entries()].filter(([, i]) => i.app === app.id);
    for (const [key, inst] of mine.slice(keep)) {
      this.#instances.delete(key);
      await (await inst.image.catch(() => undefined))?.close().catch(() => undefined);
    }
  }

  /** Stops every instance (emulator shutdown). */
  async close(): Promise<void> {
    const all = [...this.#instances.values()];
    this.#instances.clear();
    await Promise.allSettled(all.map(async (i) => (await i.image).close()));
  }

  /**
   * The stand-in `ctx.container`'s calls: `POST /start` {env}, `POST /destroy`, and `/port/<n>/<path>` (the container's
   * TCP port). `script`/`className` name the Durable Object class, `doId` the instance.
   */
  async connect(script: string, className: string, request: Request): Promise<Response> {
    const url = new URL(request.url);
    const doId = url.searchParams.get('__do') ?? '';
    url.searchParams.delete('__do');
    const fail = (message: string, exited = false): Response =>
      new Response(message, { status: 500, headers: { [CONTAINER_ERROR_HEADER]: '1', ...(exited ? { [CONTAINER_EXITED_HEADER]: '1' } : {}) } });
    const app = this.applicationFor(script, className);
    const key = `${script}/${className}/${doId}`;
    if (url.pathname === '/start') {
      if (!app) return fail('Containers have not been enabled for this Durable Object class', true);
      if (this.#instances.has(key)) return new Response('{}');
      const running = [...this.#instances.values()].filter((i) => i.app === app.id).length;
      if (running >= app.max_instances) return fail(NO_INSTANCE, true);
      const runner = this.#runnerFor(app.configuration.image);
      if (!runner) return fail(`image ${app.configuration.image} could not be pulled`, true);
      const { env } = (await request.json()) as { env?: Record<string, string> };
      const image = runner(env ?? {});
      image.catch(() => undefined);
      this.#instances.set(key, { app: app.id, doId, readyAt: Date.now() + this.coldStartMs, image });
      return new Response('{}');
    }
    if (url.pathname === '/destroy') {
      const inst = this.#instances.get(key);
      this.#instances.delete(key);
      if (inst) await (await inst.image.catch(() => undefined))?.close().catch(() => undefined);
      return new Response('{}');
    }
    const port = /^\/port\/(\d+)(\/.*)$/.exec(url.pathname);
    if (!port) return new Response('unknown container call', { status: 400 });
    const inst = this.#instances.get(key);
    // gone (scaled down, application deleted, slept): the container has exited
    if (!inst || !app) return fail(`${NOT_LISTENING}${port[1]}`, true);
    if (Date.now() < inst.readyAt) return fail(`${NOT_LISTENING}${port[1]}`);
    const running = await inst.image.catch((e: Error) => e);
    if (running instanceof Error) return fail(`container exited: ${running.message}`, true);
    const forwarded = new Request(new URL(port[2]! + url.search, 'http://container'), request);
    const outcome = await forwardHttp(forwarded, running.url);
    if ('response' in outcome) return outcome.response;
    return fail(`${NOT_LISTENING}${port[1]}`);
  }
}

// The stand-in for workerd's `ctx.container` (no container runtime in the emulator): the same members
// @cloudflare/containers uses (running, start, monitor, destroy, signal, getTcpPort, outbound interception), each
// call sent to ContainerStore.connect through the HOST service binding.
export const CONTAINER_STANDIN_SOURCE = `
export function emulatedContainer(host, doId) {
  let running = false;
  let started = Promise.resolve();
  let exit = { resolve() {}, reject() {} };
  let monitor = Promise.resolve();
  const call = (path, init) => host.fetch("http://container" + path + (path.includes("?") ? "&" : "?") + "__do=" + encodeURIComponent(doId), init);
  const failed = async (response) => {
    if (response.headers.get(${JSON.stringify(CONTAINER_ERROR_HEADER)}) === null) return null;
    const message = await response.text();
    if (response.headers.get(${JSON.stringify(CONTAINER_EXITED_HEADER)}) !== null && running) {
      running = false;
      exit.reject(new Error(message));
    }
    return new Error(message);
  };
  const newMonitor = () => {
    monitor = new Promise((resolve, reject) => { exit = { resolve, reject }; });
    monitor.catch(() => {});
  };
  return {
    get running() { return running; },
    start(options) {
      running = true;
      newMonitor();
      started = call("/start", { method: "POST", body: JSON.stringify({ env: (options && options.env) || {} }) }).then(failed).then((e) => { if (e) throw e; });
      started.catch(() => {});
    },
    monitor() { return monitor; },
    async destroy() {
      await call("/destroy", { method: "POST" });
      if (running) { running = false; exit.resolve(); }
    },
    signal() {
      call("/destroy", { method: "POST" }).catch(() => {});
      if (running) { running = false; exit.resolve(); }
    },
    getTcpPort(port) {
      return {
        async fetch(input, init) {
          await started;
          const request = new Request(input, init);
          const url = new URL(request.url);
          const response = await call("/port/" + port + url.pathname + url.search, request);
          const error = await failed(response);
          if (error) throw error;
          return response;
        },
      };
    },
    async interceptOutboundHttp() {},
    async interceptOutboundHttps() {},
    async interceptAllOutboundHttp() {},
  };
}
`;

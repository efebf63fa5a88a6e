/**
 * The Container-backed origin (provider `cloudflare`): Crawl4AI runs as a Cloudflare Container
 * next to this Worker, reached only through its Durable Object (no public route, no hostname).
 *
 * - `Crawl4aiContainer`: the Durable Object class wrangler attaches the container application to
 *   (`containers[].class_name`). The Crawl4AI token reaches the container as an environment
 *   variable at start, from the Worker's own secret; it is never in the image or the config.
 * - `containerOrigin`: the {@link Crawl4aiOrigin} over that namespace. Requests spread over
 *   `CONTAINER_MAX_INSTANCES` instances (one Durable Object name per instance); a job is pinned to
 *   the instance that holds it by its id, which carries the instance number (`crawl_c2-…`).
 * - After `sleepAfter` without traffic the container sleeps (scale to zero). The first call then
 *   starts it and answers "starting, ready in ~N s" at once, instead of holding the MCP client
 *   for the whole cold start.
 */
import { Container } from '@cloudflare/containers';
import { OriginUnreachableError, type Crawl4aiOrigin } from '../mcp/origin.js';

export const CONTAINER_CLASS = 'Crawl4aiContainer';
export const CRAWL4AI_PORT = 11235;

export interface ContainerEnv {
  CRAWL4AI_API_TOKEN?: string;
  /** e.g. "10m": idle time before the container sleeps */
  CONTAINER_SLEEP_AFTER?: string;
  /** how many instances requests spread over (the application's max_instances) */
  CONTAINER_MAX_INSTANCES?: string;
  /** the cold start on paper, in seconds, for the "ready in ~N s" answer */
  CONTAINER_COLD_START_SECONDS?: string;
}

export class Crawl4aiContainer extends Container<ContainerEnv> {
  override defaultPort = CRAWL4AI_PORT;
  override sleepAfter: string | number = '10m';
  // Crawl4AI fetches the pages it crawls: it needs the internet
  override enableInternet = true;

  constructor(ctx: DurableObjectState, env: ContainerEnv) {
    super(ctx as never, env);
    if (env.CONTAINER_SLEEP_AFTER) this.sleepAfter = env.CONTAINER_SLEEP_AFTER;
    this.envVars = { CRAWL4AI_API_TOKEN: env.CRAWL4AI_API_TOKEN ?? '' };
  }
}

/** What the Worker uses of the namespace's stubs (RPC methods of the Container class). */
interface ContainerStub {
  fetch(request: Request): Promise<Response>;
  getState(): Promise<{ status: string }>;
  start(): Promise<void>;
}
export interface ContainerNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): unknown;
}

const JOB_SUBMIT = /^\/(crawl|llm)\/job$/;
const JOB_STATUS = /^\/(crawl|llm)\/job\/([^/?]+)(.*)$/;
/** `crawl_c2-<id>`: Crawl4AI's `crawl_<id>` taken by instance 2 (the kind prefix stays, tools check it) */
const PINNED_ID = /^(crawl|llm)_c(\d+)-(.+)$/;

export function instanceName(index: number): string {
  return `crawl4ai-${index}`;
}

export function startingMessage(env: ContainerEnv): string {
  const s = Number.parseInt(env.CONTAINER_COLD_START_SECONDS ?? '', 10);
  return `Crawl4AI is starting (its container slept after being idle); ready in ~${Number.isFinite(s) && s > 0 ? s : 60} s`;
}

function positive(v: string | undefined, fallback: number): number {
  const n = Number.parseInt(v ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

function withAuth(init: RequestInit | undefined, token: string | undefined): RequestInit {
  const headers = new Headers(init?.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init?.body !== undefined && init.body !== null && !headers.has('content-type')) headers.set('content-type', 'application/json');
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  return { ...init, headers };
}

export function containerOrigin(ns: ContainerNamespaceLike, env: ContainerEnv): Crawl4aiOrigin {
  const instances = positive(env.CONTAINER_MAX_INSTANCES, 1);
  const stubOf = (i: number) => ns.get(ns.idFromName(instanceName(i))) as ContainerStub;
  const noInstance = () =>
    new OriginUnreachableError(
      'no Crawl4AI container may run now: the deployment is stopped (max instances 0) or all its instances are busy',
      'run `crawl4ai-mcp start` (or `crawl4ai-mcp scale --instances N`); `crawl4ai-mcp status` shows the container',
    );
  const starting = () => new OriginUnreachableError(startingMessage(env), 'call the tool again in a little while; `crawl4ai-mcp status` shows the container');
  return {
    label: 'the Crawl4AI container',
    async fetch(path, init) {
      // the platform stopped the instance under its Durable Object (stop, scale down, sleep): the
      // object learns it on the first call; a later try sees it stopped and answers why
      for (let attempt = 0; attempt < 3; attempt++) {
        const response = await once(path, init);
        if (response) return response;
      }
      throw new OriginUnreachableError(
        'the Crawl4AI container stopped under this call (the deployment was stopped or scaled down, or the container went to sleep)',
        'call the tool again in a moment; if you stopped the deployment, run `crawl4ai-mcp start`',
      );
    },
  };

  /** One try; undefined when the instance turned out to have exited. */
  async function once(path: string, init: RequestInit | undefined): Promise<Response | undefined> {
    // a job lives on the instance that took it: its id carries that instance's number
    let index = Math.floor(Math.random() * instances);
    let target = path;
    const job = JOB_STATUS.exec(path);
    const pinned = job ? PINNED_ID.exec(decodeURIComponent(job[2]!)) : null;
    if (job && pinned) {
      index = Number(pinned[2]) % instances;
      target = `/${job[1]}/job/${encodeURIComponent(`${pinned[1]}_${pinned[3]}`)}${job[3]}`;
    }
    let response: Response;
    try {
      const awake = async (i: number) => ['healthy', 'running'].includes((await stubOf(i).getState()).status);
      if (!(await awake(index))) {
        // asleep: wake it, and meanwhile serve from an awake instance (a job must go to its own)
        const wake = stubOf(index).start();
        let other: number | undefined;
        if (!pinned) for (let i = 0; i < instances && other === undefined; i++) if (i !== index && (await awake(i))) other = i;
        if (other === undefined) {
          // none awake: answer now rather than hold the caller through a cold start
          await wake;
          throw starting();
        }
        wake.catch(() => undefined);
        index = other;
      }
      response = await stubOf(index).fetch(new Request('http://crawl4ai' + target, withAuth(init, env.CRAWL4AI_API_TOKEN)));
    } catch (e) {
      if (e instanceof OriginUnreachableError) throw e;
      if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')) throw e;
      if (/no container instance/i.test(e instanceof Error ? e.message : String(e))) throw noInstance();
      throw new OriginUnreachableError(`the Crawl4AI container could not be reached (${e instanceof Error ? e.message.slice(0, 200) : String(e)})`, 'run `crawl4ai-mcp status`', e);
    }
    // the Container class's own answers while it cannot give an instance or the port is not up yet
    if (response.status === 503) throw noInstance();
    if (response.status === 500 && /not listening|suddenly disconnected/i.test(await response.clone().text())) return undefined;
    if (response.status === 500 && /^Failed to start container/.test(await response.clone().text())) {
      if (/no container instance/i.test(await response.clone().text())) throw noInstance();
      throw starting();
    }
    if (JOB_SUBMIT.test(path) && response.ok) {
      const body = (await response.json()) as { task_id?: unknown };
      const id = typeof body.task_id === 'string' ? /^(crawl|llm)_(.+)$/.exec(body.task_id) : null;
      if (id) body.task_id = `${id[1]}_c${index}-${id[2]}`;
      const headers = new Headers(response.headers);
      headers.delete('content-length');
      return new Response(JSON.stringify(body), { status: response.status, headers });
    }
    return response;
  }
}

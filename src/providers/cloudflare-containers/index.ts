/**
 * Provider `cloudflare`: Crawl4AI as a Cloudflare Container behind the same Worker, for users with
 * no other cloud account. There is no VM: the Worker's deploy carries the `containers` entry and
 * wrangler creates the container application; this provider reads and changes that application
 * (status, stop = max_instances 0 now, start, destroy, discovery). `wrangler delete` does not
 * delete the application, so `destroy` does, found by the journal or by its name.
 */
import { CliError, ExitCode, usageError } from '../../ground/errors.js';
import type { ContainerApplicationView, ContainerSpec, DiscoveredResource, Plan, SizeName, ValidationResult, VmStatus } from '../../model/deployment.js';
import { SIZES } from '../../pricing/catalog.js';
import { estimateContainerMonthly } from '../../pricing/containers.js';
import { estimateMonthly } from '../../pricing/estimate.js';
import { DEFAULT_DISK_GIB, DEFAULT_REGION } from '../../pricing/catalog.js';
import type { Journal } from '../../state/journal.js';
import type { ContainerApplicationsPort, Provider, ProviderContext } from '../provider.js';

/** Pinned with the VMs' image (src/bootstrap/cloud-init.ts); docker.io/ written out, else wrangler rewrites it. */
export const CONTAINER_IMAGE = 'docker.io/unclecode/crawl4ai:0.9.4';
/** Journal key of the container application (created by wrangler deploy, recorded after it). */
export const APPLICATION_KEY = 'cloudflare:container-application';
/** Where the state's outputs keep the instance count `scale --instances` chose. */
export const INSTANCES_OUTPUT = 'containerInstances';
export const SLEEP_AFTER = '10m';
/**
 * The cold start on paper: the image (about 1.6 GB compressed) is pulled once per location and
 * cached; a sleeping instance then starts the container and Crawl4AI, which launches its browser
 * pool before answering /health. See the README's "Cold start" figures.
 */
export const COLD_START_SECONDS = 45;
/** hours a day the estimate assumes the container is awake (override: CRAWL4AI_MCP_HOURS_PER_DAY) */
export const DEFAULT_HOURS_PER_DAY = 8;

/** `<worker>-crawl4aicontainer`: wrangler's name for the application (src/cloudflare/containers.ts). */
export function applicationName(deployment: string): string {
  return `crawl4ai-mcp-${deployment}-crawl4aicontainer`;
}

function port(ctx: ProviderContext): ContainerApplicationsPort {
  if (!ctx.containers) throw new CliError('the cloudflare provider needs the Cloudflare account (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID)', { exitCode: ExitCode.credentials });
  return ctx.containers;
}

function instancesOf(journal: Journal): number {
  const n = Number(journal.state.outputs[INSTANCES_OUTPUT]);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

export function hoursPerDay(env: NodeJS.ProcessEnv): number {
  const raw = env.CRAWL4AI_MCP_HOURS_PER_DAY;
  if (raw === undefined || raw.trim() === '') return DEFAULT_HOURS_PER_DAY;
  const n = Number(raw);
  if (!(n > 0 && n <= 24)) throw usageError(`CRAWL4AI_MCP_HOURS_PER_DAY=${raw} is not a number of hours`, 'set it between 0 and 24, e.g. 1 or 24');
  return n;
}

/** Idle time before an instance sleeps: CRAWL4AI_MCP_CONTAINER_SLEEP_AFTER (e.g. 30m), else 10m. */
export function sleepAfter(env: NodeJS.ProcessEnv): string {
  const raw = env.CRAWL4AI_MCP_CONTAINER_SLEEP_AFTER?.trim();
  if (!raw) return SLEEP_AFTER;
  if (!/^\d{1,5}[smh]$/.test(raw)) throw usageError(`CRAWL4AI_MCP_CONTAINER_SLEEP_AFTER=${raw} is not a duration`, 'use a number and s, m or h, e.g. 30m');
  return raw;
}

function statusOf(app: ContainerApplicationView | undefined): VmStatus {
  if (!app) return { state: 'missing', detail: 'no container application (the Worker deploy creates it)' };
  const running = app.instances ? `${app.instances.healthy} instance(s) running, ${app.instances.starting} starting` : 'instances not reported';
  return {
    state: app.maxInstances === 0 ? 'stopped' : 'running',
    instanceType: app.instanceType,
    ...(app.createdAt ? { launchedAt: app.createdAt } : {}),
    detail: `container application ${app.name} (${app.id}): max ${app.maxInstances} instance(s), ${running}; instances sleep after ${SLEEP_AFTER} idle`,
    image: { ref: app.image },
  };
}

export function createCloudflareContainersProvider(): Provider {
  const sizes = { small: SIZES.cloudflare.small.instanceType, medium: SIZES.cloudflare.medium.instanceType, large: SIZES.cloudflare.large.instanceType };

  async function find(ctx: ProviderContext, journal: Journal): Promise<ContainerApplicationView | undefined> {
    return port(ctx).find((journal.find(APPLICATION_KEY)?.meta.name as string | undefined) ?? applicationName(ctx.spec.name));
  }

  return {
    name: 'cloudflare',
    sizes,
    defaultRegion: 'global',
    policyFile: 'templates/policies/cloudflare-token.json',

    workerContainer(ctx, journal): ContainerSpec {
      return { image: CONTAINER_IMAGE, instanceType: sizes[ctx.spec.size], maxInstances: instancesOf(journal), sleepAfter: sleepAfter(ctx.env), coldStartSeconds: COLD_START_SECONDS };
    },

    async validateCredentials(ctx): Promise<ValidationResult> {
      const check = await port(ctx).checkAllowed();
      const identity = `Cloudflare account ${ctx.credentials.kind === 'static' ? (ctx.credentials.values.accountId ?? '') : ''}`.trim();
      return check.ok ? { identity, allowed: ['Workers Containers'], missing: [] } : { identity, allowed: [], missing: [check.missingPermission] };
    },

    async plan(ctx): Promise<Plan> {
      const size = SIZES.cloudflare[ctx.spec.size];
      const hours = hoursPerDay(ctx.env);
      return {
        provider: 'cloudflare',
        region: 'global',
        size: ctx.spec.size,
        instanceType: size.instanceType,
        vcpus: size.vcpus,
        memoryGiB: size.memoryGiB,
        diskGiB: { 'standard-1': 8, 'standard-2': 12, 'standard-4': 20 }[size.instanceType] ?? 0,
        image: { id: CONTAINER_IMAGE, name: 'Crawl4AI (public Docker Hub image, no registry set-up)' },
        network: { detail: 'no public route: only the Worker reaches the container, through its Durable Object' },
        resources: [
          { kind: 'Container application', name: applicationName(ctx.spec.name), detail: `${size.instanceType}, max 1 instance (scale --instances N), sleeps after ${SLEEP_AFTER} idle; needs the Workers Paid plan` },
          { kind: 'Durable Object namespace', name: 'Crawl4aiContainer', detail: 'one object per container instance' },
        ],
        cost: estimateContainerMonthly({ instanceType: size.instanceType, instances: 1, hoursPerDay: hours }),
        compare: (['aws', 'gcp', 'azure'] as const).map((p) => {
          // a tunnel-mode VM stopped outside those hours: compute for the hours, disk and address all month
          const vm = estimateMonthly({ provider: p, region: DEFAULT_REGION[p], size: ctx.spec.size, diskGiB: DEFAULT_DISK_GIB, publicIpv4: true, staticIpv4: false });
          const compute = vm.lines.find((l) => l.item === 'compute')?.monthlyUsd ?? 0;
          const monthlyUsd = Math.round((vm.monthlyUsd - compute + (compute * hours) / 24) * 100) / 100;
          return { provider: p, instanceType: SIZES[p][ctx.spec.size].instanceType, monthlyUsd, detail: `running ${hours} h/day in ${DEFAULT_REGION[p]}, stopped otherwise; disk and address all month` };
        }),
      };
    },

    // Runs after the Worker deploy: wrangler made the application; record it.
    async apply(ctx, journal): Promise<VmStatus> {
      const all = await port(ctx).listManaged();
      const app = all.find((a) => a.name === applicationName(ctx.spec.name));
      if (!app) throw new CliError(`wrangler deployed the Worker but no container application ${applicationName(ctx.spec.name)} exists (found: ${all.map((a) => a.name).join(', ') || 'none'})`, { exitCode: ExitCode.failed, hint: 'run init again (it resumes); `crawl4ai-mcp doctor` checks the plan and token' });
      if (journal.find(APPLICATION_KEY)?.phase !== 'created') {
        await journal.intend(APPLICATION_KEY, APPLICATION_KEY);
        await journal.created(APPLICATION_KEY, app.id, { name: app.name });
      }
      return statusOf(app);
    },

    async status(ctx, journal) {
      return statusOf(await find(ctx, journal));
    },

    async stop(ctx, journal) {
      const app = await find(ctx, journal);
      if (!app) return statusOf(app);
      // max_instances 0: the running instances stop now and none may start
      await port(ctx).setMaxInstances(app.id, 0);
      return statusOf({ ...app, maxInstances: 0, ...(app.instances ? { instances: { healthy: 0, starting: 0, failed: 0 } } : {}) });
    },

    async start(ctx, journal) {
      const app = await find(ctx, journal);
      if (!app) throw new CliError(`the container application ${applicationName(ctx.spec.name)} is gone`, { exitCode: ExitCode.failed, hint: `destroy and init the deployment again` });
      await port(ctx).setMaxInstances(app.id, instancesOf(journal));
      return statusOf({ ...app, maxInstances: instancesOf(journal) });
    },

    async resize(_ctx, _journal, size: SizeName): Promise<VmStatus> {
      // the instance type is part of the Worker's `containers` entry: the conductor redeploys it
      throw usageError(`the cloudflare provider changes the instance type with the Worker deploy`, `run \`crawl4ai-mcp scale --size ${size}\` (it redeploys the Worker)`);
    },

    async scrubBootstrap(ctx, journal) {
      // no user data: the token reaches the container as an env var from a Worker secret
      return statusOf(await find(ctx, journal));
    },

    async destroy(ctx, journal) {
      const p = port(ctx);
      const rec = journal.find(APPLICATION_KEY);
      const byName = await p.find((rec?.meta.name as string | undefined) ?? applicationName(ctx.spec.name));
      const ids = new Set([...(rec?.id && rec.phase !== 'deleted' ? [rec.id] : []), ...(byName ? [byName.id] : [])]);
      if (rec && rec.phase !== 'deleted') await journal.deleting(APPLICATION_KEY);
      for (const id of ids) {
        ctx.progress(`deleting the container application ${byName?.name ?? id} (wrangler delete leaves it running)`);
        await p.delete(id);
      }
      if (rec && rec.phase !== 'deleted') await journal.deleted(APPLICATION_KEY);
    },

    async discover(ctx): Promise<DiscoveredResource[]> {
      const mine = applicationName(ctx.spec.name);
      return (await port(ctx).listManaged())
        .filter((a) => a.name === mine)
        .map((a) => ({ kind: 'container application', id: a.id, region: 'global', state: a.maxInstances === 0 ? 'stopped' : 'running' }));
    },
  };
}

import { Option } from 'commander';
import type { CommandModule, ContextFactory } from '../program.js';
import type { Command } from 'commander';
import { cpuCreditsOption, idleStopOption, withSession, SIZE_NAMES, sizeHelp } from '../deploy-options.js';
import { describeIdleStop, parseIdleStop } from '../../bootstrap/idle-stop.js';
import { credentialsOf } from '../stored-credentials.js';
import { usageError } from '../../ground/errors.js';
import type { CpuCredits, SizeName } from '../../model/deployment.js';

type PowerOp = { kind: 'stop'; hold?: boolean } | { kind: 'start' } | { kind: 'resize'; size: SizeName } | { kind: 'instances'; count: number };

async function run(ctx: ContextFactory, op: PowerOp) {
  const c = ctx();
  const [{ loadDeployment }, { changePower }] = await Promise.all([import('../../conductor/session.js'), import('../../conductor/lifecycle.js')]);
  const state = await loadDeployment(c.name, c.env);
  const result = await withSession(c, async (session) => changePower(state, await credentialsOf(state, session), session, op));
  if (c.json) c.out.data({ name: c.name, ...result });
  else if (result.vm.image && 'ref' in result.vm.image && result.vm.detail?.startsWith('container')) c.out.line(c.out.ok(`container ${result.vm.state}: ${result.vm.detail}`));
  else c.out.line(c.out.ok(`VM ${result.vm.state}${result.vm.instanceType ? ` (${result.vm.instanceType})` : ''}${result.vm.held ? ', held: tool calls will not wake it (crawl4ai-mcp start)' : ''}${result.health ? ', Crawl4AI healthy through the Worker' : ''}`));
}

function stop(program: Command, ctx: ContextFactory) {
  program
    .command('stop')
    .description('stop the VM; you then pay only for its disk and address (the next tool call starts it again, unless --hold)')
    .option('--hold', 'keep it stopped: tool calls do not wake it until crawl4ai-mcp start')
    .addHelpText('after', '\nExamples:\n  crawl4ai-mcp stop --name work\n  crawl4ai-mcp stop --name work --hold   # off until `start`, whatever the MCP clients do')
    .action((opts: { hold?: boolean }) => run(ctx, { kind: 'stop', ...(opts.hold ? { hold: true } : {}) }));
}

function start(program: Command, ctx: ContextFactory) {
  program
    .command('start')
    .description('start a stopped VM and wait until Crawl4AI answers through the Worker')
    .addHelpText('after', '\nExample:\n  crawl4ai-mcp start --name work')
    .action(() => run(ctx, { kind: 'start' }));
}

function scale(program: Command, ctx: ContextFactory) {
  program
    .command('scale')
    .description('change the VM size (stop, change the machine type, start, wait until healthy), the AWS CPU credit option (in place) or idle auto-stop; provider cloudflare: the container instance type, or how many instances run (--instances)')
    .addOption(new Option('--size <size>', `small|medium|large — ${sizeHelp()}`))
    .addOption(new Option('--instances <n>', 'provider cloudflare: at most N container instances (1-20); requests spread across them'))
    .addOption(cpuCreditsOption())
    .addOption(idleStopOption())
    .addHelpText('after', '\nExamples:\n  crawl4ai-mcp scale --size large\n  crawl4ai-mcp scale --cpu-credits unlimited\n  crawl4ai-mcp scale --idle-stop 30m\n  crawl4ai-mcp scale --instances 3    # provider cloudflare')
    .action(async (opts: { size?: string; instances?: string; cpuCredits?: CpuCredits; idleStop?: string }) => {
      if (opts.instances !== undefined) {
        const n = Number(opts.instances);
        if (opts.size || opts.cpuCredits || opts.idleStop !== undefined) throw usageError('give --instances alone', 'run scale once per change');
        if (!Number.isInteger(n) || n < 1 || n > 20) throw usageError(`--instances ${opts.instances} is not a whole number from 1 to 20`, 'e.g. --instances 3 (stop sets 0)');
        return run(ctx, { kind: 'instances', count: n });
      }
      if (!opts.size && !opts.cpuCredits && opts.idleStop === undefined) {
        throw usageError('scale needs --size, --cpu-credits, --idle-stop or --instances', `use --size ${SIZE_NAMES.join('|')}, --cpu-credits standard|unlimited, --idle-stop 30m|2h|off or (provider cloudflare) --instances N`);
      }
      if (opts.size && !(SIZE_NAMES as string[]).includes(opts.size)) throw usageError(`unknown size "${opts.size}"`, `valid sizes: ${sizeHelp()}`);
      const idleMinutes = opts.idleStop === undefined ? undefined : parseIdleStop(opts.idleStop);
      if (opts.cpuCredits) await credits(ctx, opts.cpuCredits);
      if (idleMinutes !== undefined) await idleStop(ctx, idleMinutes);
      if (opts.size) await run(ctx, { kind: 'resize', size: opts.size as SizeName });
    });
}

async function idleStop(ctx: ContextFactory, minutes: number) {
  const c = ctx();
  const [{ loadDeployment }, { changeIdleStop }] = await Promise.all([import('../../conductor/session.js'), import('../../conductor/idle-stop.js')]);
  const state = await loadDeployment(c.name, c.env);
  const result = await withSession(c, async (session) => changeIdleStop(state, await credentialsOf(state, session), session, minutes));
  if (c.json) c.out.data({ name: c.name, ...result });
  else c.out.line(c.out.ok(`idle auto-stop ${minutes ? `after ${describeIdleStop(minutes)} without a crawl request` : 'off'}; VM ${result.vm.state}${result.health ? ', Crawl4AI healthy through the Worker' : ''}`));
}

async function credits(ctx: ContextFactory, mode: CpuCredits) {
  const c = ctx();
  const [{ loadDeployment }, { changeCpuCredits }] = await Promise.all([import('../../conductor/session.js'), import('../../conductor/cpu-credits.js')]);
  const state = await loadDeployment(c.name, c.env);
  const result = await withSession(c, async (session) => changeCpuCredits(state, await credentialsOf(state, session), session, mode));
  if (c.json) c.out.data({ name: c.name, ...result });
  else {
    const cost = result.worstCaseMonthlyUsd !== undefined && mode === 'unlimited' ? `; bursts are now billed: up to $${result.worstCaseMonthlyUsd.toFixed(2)}/month more at 100% CPU` : '';
    c.out.line(c.out.ok(`CPU credits ${result.vm.cpuCredits ?? mode}${cost}`));
  }
}

export const stopCommand: CommandModule = { register: stop };
export const startCommand: CommandModule = { register: start };
export const scaleCommand: CommandModule = { register: scale };

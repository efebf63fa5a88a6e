import { Option } from 'commander';
import type { CommandModule, ContextFactory } from '../program.js';
import type { Command } from 'commander';
import { withSession, SIZE_NAMES, sizeHelp } from '../deploy-options.js';
import { credentialsOf } from '../stored-credentials.js';
import { usageError } from '../../ground/errors.js';
import type { SizeName } from '../../model/deployment.js';

type PowerOp = { kind: 'stop' } | { kind: 'start' } | { kind: 'resize'; size: SizeName } | { kind: 'instances'; count: number };

async function run(ctx: ContextFactory, op: PowerOp) {
  const c = ctx();
  const [{ loadDeployment }, { changePower }] = await Promise.all([import('../../conductor/session.js'), import('../../conductor/lifecycle.js')]);
  const state = await loadDeployment(c.name, c.env);
  const result = await withSession(c, async (session) => changePower(state, await credentialsOf(state, session), session, op));
  if (c.json) c.out.data({ name: c.name, ...result });
  else if (result.vm.image && 'ref' in result.vm.image && result.vm.detail?.startsWith('container')) c.out.line(c.out.ok(`container ${result.vm.state}: ${result.vm.detail}`));
  else c.out.line(c.out.ok(`VM ${result.vm.state}${result.vm.instanceType ? ` (${result.vm.instanceType})` : ''}${result.health ? ', Crawl4AI healthy through the Worker' : ''}`));
}

function stop(program: Command, ctx: ContextFactory) {
  program
    .command('stop')
    .description('stop the VM; you then pay only for its disk and address')
    .addHelpText('after', '\nExample:\n  crawl4ai-mcp stop --name work')
    .action(() => run(ctx, { kind: 'stop' }));
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
    .description('change the VM size: stop, change the machine type, start, wait until healthy; provider cloudflare: the container instance type, or how many instances run (--instances)')
    .addOption(new Option('--size <size>', `small|medium|large — ${sizeHelp()}`))
    .addOption(new Option('--instances <n>', 'provider cloudflare: at most N container instances (1-20); requests spread across them'))
    .addHelpText('after', '\nExamples:\n  crawl4ai-mcp scale --size large\n  crawl4ai-mcp scale --instances 3    # provider cloudflare')
    .action((opts: { size?: string; instances?: string }) => {
      if (opts.instances !== undefined) {
        const n = Number(opts.instances);
        if (opts.size) throw usageError('give --size or --instances, not both', 'run scale twice');
        if (!Number.isInteger(n) || n < 1 || n > 20) throw usageError(`--instances ${opts.instances} is not a whole number from 1 to 20`, 'e.g. --instances 3 (stop sets 0)');
        return run(ctx, { kind: 'instances', count: n });
      }
      if (!opts.size) throw usageError('scale needs --size (or --instances for provider cloudflare)', `use --size ${SIZE_NAMES.join('|')}`);
      if (!(SIZE_NAMES as string[]).includes(opts.size)) throw usageError(`unknown size "${opts.size}"`, `valid sizes: ${sizeHelp()}`);
      return run(ctx, { kind: 'resize', size: opts.size as SizeName });
    });
}

export const stopCommand: CommandModule = { register: stop };
export const startCommand: CommandModule = { register: start };
export const scaleCommand: CommandModule = { register: scale };

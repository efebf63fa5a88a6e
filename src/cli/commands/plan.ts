import { Option } from 'commander';
import type { CommandModule } from '../program.js';
import { addSpecOptions, withSession, resolveSpec, prompterFor, type SpecOptions } from '../deploy-options.js';
import { renderPlan } from '../render-plan.js';

export const planCommand: CommandModule = {
  register(program, ctx) {
    addSpecOptions(
      program
        .command('plan')
        .description('show what `init` would create and what it costs; creates nothing')
        .addOption(new Option('--hours-per-day <hours>', 'provider cloudflare: hours a day the container is awake, for the estimate (1-24, default 8)'))
        .addHelpText('after', '\nExamples:\n  crawl4ai-mcp plan --provider aws --region eu-west-1 --size medium --json\n  crawl4ai-mcp plan --provider cloudflare --size small --hours-per-day 1'),
    ).action(async (opts: SpecOptions & { hoursPerDay?: string }) => {
      const c = ctx();
      // read by the cloudflare provider's estimate (and checked there: one line when it is not 1-24)
      if (opts.hoursPerDay !== undefined) c.env.CRAWL4AI_MCP_HOURS_PER_DAY = opts.hoursPerDay;
      const { resolveCloudCredentials } = await import('../../conductor/credentials.js');
      const { planDeployment } = await import('../../conductor/plan.js');
      const plan = await withSession(c, async (session) => {
        const { spec, credentials } = await resolveSpec(c, opts, (provider, source) =>
          resolveCloudCredentials(provider, source, opts.profile, session.secrets, c.env, prompterFor(c)),
        );
        session.reporter.step(`reading images, network and prices in ${spec.region}`);
        return (await planDeployment(spec, credentials, session)).plan;
      });
      if (c.json) c.out.data(plan);
      else renderPlan(c.out, plan);
    });
  },
};

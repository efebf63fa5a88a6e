import type { CommandModule } from '../program.js';
import { addSpecOptions, withSession, resolveSpec, prompterFor, type SpecOptions } from '../deploy-options.js';
import { renderPlan } from '../render-plan.js';

export const planCommand: CommandModule = {
  register(program, ctx) {
    addSpecOptions(
      program
        .command('plan')
        .description('show what `init` would create and what it costs; creates nothing')
        .addHelpText('after', '\nExample:\n  crawl4ai-mcp plan --provider aws --region eu-west-1 --size medium --json'),
    ).action(async (opts: SpecOptions) => {
      const c = ctx();
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

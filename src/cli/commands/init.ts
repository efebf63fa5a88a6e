import type { CommandModule } from '../program.js';
import { describeIdleStop } from '../../bootstrap/idle-stop.js';
import { addSpecOptions, prompterFor, resolveSpec, withSession, type SpecOptions } from '../deploy-options.js';
import { renderPlan } from '../render-plan.js';
import { CliError, ExitCode, missingAnswer } from '../../ground/errors.js';
import { CLIENTS, clientSnippet, mcpEndpoint } from '../client-config.js';
import { deploymentSecret } from '../../secrets/keys.js';

export const initCommand: CommandModule = {
  register(program, ctx) {
    addSpecOptions(
      program
        .command('init')
        .description('wizard: cloud + credentials -> plan and cost -> provision the VM -> deploy the Worker -> print client config')
        .addHelpText(
          'after',
          '\nExamples:\n  npx crawl4ai-mcp init\n  crawl4ai-mcp init --yes --provider aws --region us-east-1 --size medium   # credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, CLOUDFLARE_ACCOUNT_ID/CLOUDFLARE_API_TOKEN\n  crawl4ai-mcp init --yes --provider gcp --region us-central1   # the service-account key from CRAWL4AI_MCP_GCP_KEY (the key file\'s JSON)\n\nRe-running init after a failure resumes where it stopped.',
        ),
    ).action(async (opts: SpecOptions) => {
      const c = ctx();
      const { checkCloudflareEnvShapes, resolveCloudCredentials, resolveCloudflareAccount } = await import('../../conductor/credentials.js');
      const [{ initDeployment, checkResumable }, { planDeployment }] = await Promise.all([import('../../conductor/init.js'), import('../../conductor/plan.js')]);
      const prompter = prompterFor(c);
      await withSession(c, async (session) => {
        // init is the one command that stores credentials (day-2 commands only read them)
        const stores = { persist: true, note: (m: string) => session.reporter.step(m) };
        const { spec, network, credentials } = await resolveSpec(c, opts, (provider, source) => {
          checkCloudflareEnvShapes(c.env); // a bad Cloudflare value must fail before the cloud key is stored
          return resolveCloudCredentials(provider, source, opts.profile, session.secrets, c.env, prompter, stores);
        });
        const cloudflare = await resolveCloudflareAccount(spec.profile, session.secrets, c.env, prompter, stores);
        await checkResumable(spec, c.env);

        const { plan } = await planDeployment(spec, credentials, session);
        session.reporter.pause();
        if (!c.json) renderPlan(c.out, plan);
        if (prompter) {
          if (!(await prompter.confirm(`Create these resources (about $${plan.cost.monthlyUsd.toFixed(2)}/month)?`, true))) {
            throw new CliError('cancelled; nothing was created', { exitCode: ExitCode.interrupted });
          }
        } else if (!c.yes) {
          throw missingAnswer('the confirmation to create resources', '--yes', 'CRAWL4AI_MCP_YES=1', 'no-terminal');
        }

        const result = await initDeployment(spec, credentials, cloudflare, network, session);
        session.reporter.pause();
        const apiKey = (await session.secrets.get(deploymentSecret(spec.name, 'mcp-api-key')))!;
        const mcpUrl = mcpEndpoint(result.state.worker!.url);
        if (c.json) {
          c.out.data({ name: spec.name, status: result.state.status, mcpUrl, vm: result.vm, crawl4aiVersion: result.health.origin.version ?? null, monthlyUsd: plan.cost.monthlyUsd, idleStopMinutes: spec.idleStopMinutes ?? 0 });
          return;
        }
        c.out.line('');
        c.out.line(c.out.ok(`deployment "${spec.name}" is ready`));
        c.out.line(`  MCP endpoint  ${mcpUrl}`);
        c.out.line(`  VM            ${result.vm.publicIp ?? ''} (${plan.instanceType}, ${spec.region})`);
        c.out.line(`  Crawl4AI      ${result.health.origin.version ?? 'healthy'}`);
        const idle = spec.idleStopMinutes ?? 0;
        c.out.line(`  idle stop     ${idle ? `after ${describeIdleStop(idle)} without a crawl request (start it again with \`crawl4ai-mcp start\`)` : 'off'}`);
        c.out.line('');
        for (const client of CLIENTS) {
          const s = clientSnippet(client, { deployment: spec.name, mcpUrl, apiKey });
          c.out.line(c.out.style('bold', s.title) + c.out.style('dim', ` — ${s.where}`));
          c.out.reveal(s.text + '\n\n', [apiKey]);
        }
        c.out.line(c.out.style('dim', 'Print these again any time with `crawl4ai-mcp connect`. Stop the VM when idle with `crawl4ai-mcp stop`.'));
      });
    });
  },
};

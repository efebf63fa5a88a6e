import { Option } from 'commander';
import type { CommandModule } from '../program.js';
import { checkRegion, withSession, prompterFor } from '../deploy-options.js';
import { credentialsOf, cloudflareOf } from '../stored-credentials.js';
import { CliError, ExitCode, missingAnswer, usageError } from '../../ground/errors.js';
import { PROVIDER_NAMES } from '../../conductor/providers.js';
import type { DeploymentSpec, ProviderName } from '../../model/deployment.js';

export const destroyCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('destroy')
      .description('delete the VM, its network pieces, the Worker, the keys and the state — found by tag even if the state file is lost')
      .addOption(new Option('--provider <cloud>', 'when the state file is lost: the cloud to search by tag').choices(PROVIDER_NAMES as string[]).env('CRAWL4AI_MCP_PROVIDER'))
      .addOption(new Option('--region <region>', 'when the state file is lost: the region to search').env('CRAWL4AI_MCP_REGION'))
      .addOption(new Option('--profile <name>', 'credential profile (when the state file is lost)').env('CRAWL4AI_MCP_PROFILE').default('default'))
      .addOption(new Option('--credentials <source>', 'keychain or chain (when the state file is lost)').choices(['keychain', 'chain']).env('CRAWL4AI_MCP_CREDENTIALS').default('keychain'))
      .addHelpText('after', '\nExamples:\n  crawl4ai-mcp destroy --name work\n  crawl4ai-mcp destroy --name work --yes --provider aws --region us-east-1   # state file lost: find by tag\n  crawl4ai-mcp destroy --name work --yes --provider gcp --region us-central1 # the same on GCP (labels)\n  crawl4ai-mcp destroy --name work --yes --provider cloudflare                # the container application, by name')
      .action(async (opts: { provider?: string; region?: string; profile: string; credentials: 'keychain' | 'chain' }) => {
        const c = ctx();
        const [{ stateStore, specOf }, { destroyDeployment }] = await Promise.all([import('../../conductor/session.js'), import('../../conductor/destroy.js')]);
        const { resolveCloudCredentials, storedCloudflareAccount } = await import('../../conductor/credentials.js');
        let state = await stateStore(c.env).read(c.name);
        if (state && !state.provider) state = null;
        let spec: DeploymentSpec;
        if (state) {
          spec = specOf(state);
        } else {
          // Cloudflare Containers have one region ("global"): nothing to ask
          if (opts.provider === 'cloudflare') opts.region ??= 'global';
          if (!opts.provider || !opts.region) {
            throw usageError(`no state file for deployment "${c.name}"`, 'to remove its resources by tag, pass --provider and --region');
          }
          checkRegion(opts.provider as ProviderName, opts.region);
          spec = { name: c.name, provider: opts.provider as ProviderName, region: opts.region, size: 'medium', network: opts.provider === 'cloudflare' ? 'container' : 'public', profile: opts.profile };
        }
        const prompter = prompterFor(c);
        if (prompter) {
          const typed = await prompter.text(`This deletes deployment "${c.name}" and everything it owns. Type its name to confirm`);
          if (typed !== c.name) throw new CliError('names differ; nothing was deleted', { exitCode: ExitCode.usage });
        } else if (!c.yes) {
          throw missingAnswer('the confirmation to delete', '--yes', 'CRAWL4AI_MCP_YES=1', 'no-terminal');
        }
        const result = await withSession(c, async (session) => {
          const credentials = state
            ? await credentialsOf(state, session)
            : await resolveCloudCredentials(spec.provider, opts.credentials, spec.profile, session.secrets, c.env, null);
          const cloudflare = state ? await cloudflareOf(state, session) : await storedCloudflareAccount(spec.profile, session.secrets, c.env);
          return destroyDeployment(c.name, { spec, credentials, cloudflare }, session);
        });
        if (c.json) c.out.data({ name: c.name, destroyed: true, ...result });
        else c.out.line(c.out.ok(`deployment "${c.name}" destroyed (${result.removed.join(', ')})`));
      });
  },
};

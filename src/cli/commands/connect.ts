import { Option } from 'commander';
import type { CommandModule } from '../program.js';
import { CLIENTS, CONNECT_CLIENTS, CONNECTOR_CLIENT, clientSnippet, connectorSteps, mcpEndpoint, type ConnectClientName } from '../client-config.js';
import { credentialsError, notFoundError } from '../../ground/errors.js';
import { deploymentSecret } from '../../secrets/keys.js';
import { deploymentsDir } from '../../ground/paths.js';

export const connectCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('connect')
      .description('print ready-to-paste MCP configuration for Claude Desktop, Claude Code, Cursor and VS Code, and the claude.ai connector steps')
      .addOption(new Option('--client <client>', 'only this client (claude-ai: connector steps with a one-time pairing code)').choices(CONNECT_CLIENTS as unknown as string[]))
      .option('--key-only', 'print only the API key, for $(...) in a script; nothing else')
      .addHelpText('after', '\nExample:\n  crawl4ai-mcp connect --client claude-code\n  crawl4ai-mcp connect --client claude-ai   # claude.ai / Claude Desktop / mobile connector, URL + pairing code\n  crawl4ai-mcp connect --name work --json\n  CRAWL4AI_MCP_KEY="$(crawl4ai-mcp connect --key-only)"')
      .action(async (opts: { client?: ConnectClientName; keyOnly?: boolean }) => {
        const c = ctx();
        const { StateStore } = await import('../../state/store.js');
        const state = await new StateStore(deploymentsDir(c.env)).read(c.name);
        if (!state) {
          throw notFoundError(`no deployment named "${c.name}"`, `create it with: crawl4ai-mcp init --name ${c.name}`);
        }
        if (!state.worker) {
          throw notFoundError(`deployment "${c.name}" has no Worker yet`, `finish it with: crawl4ai-mcp init --name ${c.name}`);
        }
        const { openSecretStore, promptPassphrase } = await import('../../secrets/store.js');
        const secrets = await openSecretStore({ env: c.env, interactive: c.interactive, promptPassphrase });
        if (opts.client === CONNECTOR_CLIENT && !opts.keyOnly) {
          // URL-only clients sign in with OAuth; the owner approves with a code minted now (admin API)
          const { AdminClient, adminTarget } = await import('../../conductor/keys.js');
          const p = await new AdminClient(await adminTarget(state, secrets)).pairingCode();
          const url = mcpEndpoint(state.worker.url);
          if (c.json) {
            c.out.reveal(JSON.stringify({ name: c.name, url, pairing_code: p.code, pairing_code_expires_at: new Date(p.expires_at).toISOString(), steps: connectorSteps(c.name, url, { code: p.code, expiresAt: p.expires_at }) }, null, 2) + '\n', [p.code]);
            return;
          }
          c.out.line(c.out.style('bold', 'claude.ai, Claude Desktop and mobile: custom connector') + c.out.style('dim', ' — URL only; you approve it once'));
          c.out.reveal(connectorSteps(c.name, url, { code: p.code, expiresAt: p.expires_at }).join('\n') + '\n', [p.code]);
          c.out.line(c.out.style('dim', 'It then shows in `crawl4ai-mcp keys list` as oauth-Claude-…; `keys revoke` disconnects it.'));
          return;
        }
        const apiKey = await secrets.get(deploymentSecret(c.name, 'mcp-api-key'));
        if (!apiKey) {
          throw credentialsError(
            `the API key of deployment "${c.name}" is not in the ${secrets.description}`,
            'the key cannot be recovered (only its hash is stored); create a new one with `crawl4ai-mcp init` on this machine',
          );
        }
        if (opts.keyOnly) {
          c.out.reveal(apiKey + '\n', [apiKey]);
          return;
        }
        const info = { deployment: c.name, mcpUrl: mcpEndpoint(state.worker.url), apiKey };
        const chosen = opts.client && opts.client !== CONNECTOR_CLIENT ? [opts.client] : [...CLIENTS];
        const snippets = chosen.map((client) => clientSnippet(client, info));
        if (c.json) {
          const doc = {
            name: c.name,
            url: info.mcpUrl,
            clients: {
              ...Object.fromEntries(snippets.map((s) => [s.client, s.format === 'json' ? { where: s.where, config: s.config } : { where: s.where, command: s.text }])),
              [CONNECTOR_CLIENT]: { where: 'claude.ai or Claude Desktop: Settings > Connectors > Add custom connector', url: info.mcpUrl, steps: connectorSteps(c.name, info.mcpUrl) },
            },
          };
          c.out.reveal(JSON.stringify(doc, null, 2) + '\n', [apiKey]);
          return;
        }
        if (opts.client) {
          // A single client: print only the snippet, so `connect --client cursor > mcp.json` works.
          c.out.reveal(snippets[0]!.text + '\n', [apiKey]);
          return;
        }
        c.out.line(`MCP endpoint: ${info.mcpUrl}`);
        for (const s of snippets) {
          c.out.line('');
          c.out.line(c.out.style('bold', `${s.title}`) + c.out.style('dim', ` — ${s.where}`));
          c.out.reveal(s.text + '\n', [apiKey]);
        }
        c.out.line('');
        c.out.line(c.out.style('bold', 'claude.ai / Claude Desktop connector') + c.out.style('dim', ' — Settings > Connectors > Add custom connector'));
        c.out.line(connectorSteps(c.name, info.mcpUrl).join('\n'));
        c.out.line('');
        c.out.line(c.out.style('dim', 'This key grants access to your crawler: keep these snippets private.'));
      });
  },
};

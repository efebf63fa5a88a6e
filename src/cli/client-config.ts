/**
 * Ready-to-paste MCP client configuration for a deployment. One function per client, all built
 * from the same (name, url, key) triple so the four snippets can never drift apart.
 */
export const CLIENTS = ['claude-desktop', 'claude-code', 'cursor', 'vscode'] as const;
export type ClientName = (typeof CLIENTS)[number];

export interface ConnectionInfo {
  /** deployment name; the MCP server is registered as `crawl4ai-<name>` (or `crawl4ai` for "default") */
  deployment: string;
  /** the MCP endpoint, e.g. https://crawl4ai-mcp-default.me.workers.dev/mcp */
  mcpUrl: string;
  apiKey: string;
}

export interface ClientSnippet {
  client: ClientName;
  title: string;
  /** where the snippet goes */
  where: string;
  /** "json" snippets are a config document; "shell" snippets are a command line */
  format: 'json' | 'shell';
  /** the config document, for json snippets */
  config?: unknown;
  /** the text to paste */
  text: string;
}

/** The shell variable the Claude Code snippet passes the key through. */
export const KEY_VARIABLE = 'CRAWL4AI_MCP_KEY';

export function serverName(deployment: string): string {
  return deployment === 'default' ? 'crawl4ai' : `crawl4ai-${deployment}`;
}

export function clientSnippet(client: ClientName, info: ConnectionInfo): ClientSnippet {
  const name = serverName(info.deployment);
  const bearer = `Bearer ${info.apiKey}`;
  switch (client) {
    case 'claude-desktop': {
      // Claude Desktop speaks stdio only; mcp-remote bridges to Streamable HTTP. The header
      // value has no space ("Authorization:${AUTH}") because some launchers split args on
      // spaces; the key itself travels in env, where mcp-remote expands ${AUTH}.
      const config = {
        mcpServers: {
          [name]: {
            command: 'npx',
            args: ['-y', 'mcp-remote', info.mcpUrl, '--transport', 'http-only', '--header', 'Authorization:${AUTH}'],
            env: { AUTH: bearer },
          },
        },
      };
      return {
        client,
        title: 'Claude Desktop',
        where: 'claude_desktop_config.json (Settings > Developer > Edit Config); merge into "mcpServers"',
        format: 'json',
        config,
        text: JSON.stringify(config, null, 2),
      };
    }
    case 'claude-code': {
      // The key goes through a shell variable filled by `connect --key-only`, so it is in neither
      // the shell history nor this snippet (nor the screen); `claude mcp add` stores it in
      // Claude Code's own config, as every header it is given.
      const nameFlag = info.deployment === 'default' ? '' : ` --name ${info.deployment}`;
      const text = [
        `${KEY_VARIABLE}="$(crawl4ai-mcp connect${nameFlag} --key-only)"`,
        `claude mcp add --transport http ${name} ${info.mcpUrl} --header "Authorization: Bearer $${KEY_VARIABLE}"`,
      ].join('\n');
      return { client, title: 'Claude Code', where: 'run in a terminal (the key never appears on screen or in your shell history)', format: 'shell', text };
    }
    case 'cursor': {
      const config = { mcpServers: { [name]: { url: info.mcpUrl, headers: { Authorization: bearer } } } };
      return {
        client,
        title: 'Cursor',
        where: '~/.cursor/mcp.json (or .cursor/mcp.json in a project); merge into "mcpServers"',
        format: 'json',
        config,
        text: JSON.stringify(config, null, 2),
      };
    }
    case 'vscode': {
      const config = { servers: { [name]: { type: 'http', url: info.mcpUrl, headers: { Authorization: bearer } } } };
      return {
        client,
        title: 'VS Code',
        where: '.vscode/mcp.json in a workspace, or "MCP: Open User Configuration"; merge into "servers"',
        format: 'json',
        config,
        text: JSON.stringify(config, null, 2),
      };
    }
  }
}

export function mcpEndpoint(workerUrl: string): string {
  return workerUrl.replace(/\/+$/, '') + '/mcp';
}

/** `connect --client claude-ai`: Claude's custom connectors take a URL only and sign in with OAuth. */
export const CONNECTOR_CLIENT = 'claude-ai';
export const CONNECT_CLIENTS = [...CLIENTS, CONNECTOR_CLIENT] as const;
export type ConnectClientName = (typeof CONNECT_CLIENTS)[number];

/**
 * The steps to add the deployment as a custom connector in claude.ai, Claude Desktop or the mobile
 * apps. With a pairing code (minted for this run, single use, 10 minutes), step 3 names it; without
 * one it says how to get one.
 */
export function connectorSteps(deployment: string, mcpUrl: string, pairing?: { code: string; expiresAt: number }): string[] {
  const nameFlag = deployment === 'default' ? '' : ` --name ${deployment}`;
  const proof = pairing
    ? `enter the pairing code ${pairing.code} (single use, valid until ${new Date(pairing.expiresAt).toISOString().slice(11, 16)} UTC) and click Allow.`
    : `enter a pairing code from \`crawl4ai-mcp connect${nameFlag} --client claude-ai\` (or your admin key) and click Allow.`;
  return [
    `1. In claude.ai (or Claude Desktop, same account): Settings > Connectors > Add custom connector.`,
    `2. Name it ${serverName(deployment)} and paste the URL: ${mcpUrl} (no key, no header), then Connect.`,
    `3. On the crawl4ai-mcp page that opens, check it says "Claude" and claude.ai, ${proof}`,
  ];
}

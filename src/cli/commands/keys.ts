import type { Command } from 'commander';
import type { CommandModule } from '../program.js';
import type { CommandContext } from '../context.js';
import { usageError } from '../../ground/errors.js';
import type { AdminClient, KeyInfo } from '../../conductor/keys.js';

/** The admin client of the current deployment: its Worker URL from the state, the admin key from the secret store. */
async function adminFor(c: CommandContext): Promise<AdminClient> {
  const [{ loadDeployment }, { openSecretStore, promptPassphrase }, { AdminClient: Client, adminTarget }] = await Promise.all([
    import('../../conductor/session.js'),
    import('../../secrets/store.js'),
    import('../../conductor/keys.js'),
  ]);
  const state = await loadDeployment(c.name, c.env);
  const secrets = await openSecretStore({ env: c.env, interactive: c.interactive, promptPassphrase });
  return new Client(await adminTarget(state, secrets));
}

function positive(flag: string) {
  return (v: string): number => {
    if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw usageError(`${flag} must be a whole number of at least 1 (got "${v}")`, `e.g. ${flag} 60`);
    return Number(v);
  };
}

async function duration(flag: string, v: string): Promise<number> {
  const { parseDurationSeconds } = await import('../../conductor/keys.js');
  const s = parseDurationSeconds(v);
  if (s === undefined) throw usageError(`${flag} must be a duration like 30d, 24h, 90m or 3600s (got "${v}")`, `e.g. ${flag} 30d`);
  return s;
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));

function printKey(c: CommandContext, k: KeyInfo): void {
  const state = k.revoked_at !== null ? 'revoked' : k.expires_at !== null && k.expires_at <= Date.now() ? 'expired' : 'active';
  c.out.line(c.out.style('bold', k.name) + c.out.style('dim', ` (${k.id}, ${state})`));
  c.out.line(`  tools: ${k.tools ? k.tools.join(', ') : 'all'}   rpm: ${k.rpm ?? 'unlimited'}   daily: ${k.daily ?? 'unlimited'}   expires: ${when(k.expires_at)}`);
  c.out.line(`  created: ${when(k.created_at)}   last used: ${when(k.last_used_at)}`);
  const u = k.usage;
  const avg = u.calls > 0 ? ` avg ${Math.round(u.latency_ms_total / u.calls)} ms` : '';
  c.out.line(`  usage: ${u.calls} calls (${u.today} today), ${u.errors} errors, ${u.bytes} bytes${avg}`);
  for (const t of u.by_tool) c.out.line(c.out.style('dim', `    ${t.tool}: ${t.calls} calls, ${t.errors} errors, ${t.bytes} bytes, max ${t.latency_ms_max} ms`));
}

function showNewKey(c: CommandContext, verb: string, k: KeyInfo, apiKey: string): void {
  if (c.json) {
    c.out.reveal(JSON.stringify({ key: k, api_key: apiKey }, null, 2) + '\n', [apiKey]);
    return;
  }
  c.out.info(`${verb} key "${k.name}" — shown once: copy it now (only its hash is kept)`);
  c.out.reveal(apiKey + '\n', [apiKey]);
}

export const keysCommand: CommandModule = {
  register(program, ctx) {
    const keys: Command = program
      .command('keys')
      .description('API keys of the deployment: create with scopes and limits, list with usage, revoke, rotate')
      .addHelpText('after', '\nExample:\n  crawl4ai-mcp keys create ci --tools scrape,map --rpm 30 --daily 1000 --expires 30d\n  crawl4ai-mcp keys list --json');

    keys
      .command('create')
      .description('make a key (printed once) with an optional tool allowlist, rate limit, daily quota and expiry')
      // the key's name is an argument: --name is the global option choosing the deployment
      .argument('<key-name>', 'a name for the key (letters, digits, "_", "-", ".")')
      .option('--tools <list>', 'comma-separated tools the key may call (default: all)')
      .option('--rpm <n>', 'tool calls per minute', positive('--rpm'))
      .option('--daily <n>', 'tool calls per UTC day', positive('--daily'))
      .option('--expires <duration>', 'expiry, e.g. 30d, 12h')
      .action(async (keyName: string, opts: { tools?: string; rpm?: number; daily?: number; expires?: string }) => {
        const c = ctx();
        const tools = opts.tools?.split(',').map((t) => t.trim()).filter(Boolean);
        if (tools && tools.length === 0) throw usageError('--tools is empty', 'name at least one tool, e.g. --tools scrape,map');
        const expiresInSeconds = opts.expires === undefined ? undefined : await duration('--expires', opts.expires);
        const made = await (await adminFor(c)).create({ name: keyName, ...(tools ? { tools } : {}), ...(opts.rpm ? { rpm: opts.rpm } : {}), ...(opts.daily ? { daily: opts.daily } : {}), ...(expiresInSeconds ? { expiresInSeconds } : {}) });
        showNewKey(c, 'created', made.key, made.apiKey);
      });

    keys
      .command('list')
      .description('the keys with their scopes, limits and usage')
      .option('--all', 'include revoked keys')
      .action(async (opts: { all?: boolean }) => {
        const c = ctx();
        const { keys: list } = await (await adminFor(c)).list(Boolean(opts.all));
        if (c.json) return c.out.data({ keys: list });
        if (list.length === 0) c.out.line('no keys');
        for (const k of list) printKey(c, k);
      });

    keys
      .command('revoke')
      .description('revoke a key by name (tool calls are refused at once, any request within 5 s)')
      .argument('<key-name>')
      .action(async (name: string) => {
        const c = ctx();
        const r = await (await adminFor(c)).revoke(name);
        if (c.json) return c.out.data({ name, revoked: r.revoked });
        c.out.line(c.out.ok(`revoked "${name}"${r.revoked > 1 ? ` (${r.revoked} keys: a rotation's predecessor too)` : ''}`));
      });

    keys
      .command('rotate')
      .description('a new key with the same name, scopes and limits (printed once); the old one stops now or after --grace')
      .argument('<key-name>')
      .option('--grace <duration>', 'keep the old key working this long, e.g. 24h (default: stop now)')
      .action(async (name: string, opts: { grace?: string }) => {
        const c = ctx();
        const grace = opts.grace === undefined ? 0 : await duration('--grace', opts.grace);
        const made = await (await adminFor(c)).rotate(name, grace);
        showNewKey(c, 'rotated', made.key, made.apiKey);
        if (!c.json) c.out.info(grace > 0 ? `the old key keeps working until ${when(Date.now() + grace * 1000)} UTC` : 'the old key no longer works');
      });
  },
};

import { spawn } from 'node:child_process';
import type { CommandModule } from '../program.js';

/** The desktop's "open this URL" program, or undefined on a machine without a desktop. */
function opener(env: NodeJS.ProcessEnv): string[] | undefined {
  if (process.platform === 'darwin') return ['open'];
  if (process.platform === 'win32') return ['cmd', '/c', 'start', '""'];
  return env.DISPLAY || env.WAYLAND_DISPLAY ? ['xdg-open'] : undefined;
}

export const dashboardCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('dashboard')
      .description("print the management dashboard's URL (and open it in the browser on a desktop); sign in with the admin key")
      .option('--key-only', 'print only the admin key, to paste into the sign-in form; nothing else')
      .option('--no-open', 'do not open the browser')
      .addHelpText('after', '\nExample:\n  crawl4ai-mcp dashboard\n  crawl4ai-mcp dashboard --key-only | pbcopy')
      .action(async (opts: { keyOnly?: boolean; open: boolean }) => {
        const c = ctx();
        const [{ loadDeployment }, { openSecretStore, promptPassphrase }, { adminTarget }] = await Promise.all([
          import('../../conductor/session.js'),
          import('../../secrets/store.js'),
          import('../../conductor/keys.js'),
        ]);
        const state = await loadDeployment(c.name, c.env);
        const target = await adminTarget(state, await openSecretStore({ env: c.env, interactive: c.interactive, promptPassphrase }));
        if (opts.keyOnly) {
          c.out.reveal(target.adminKey + '\n', [target.adminKey]);
          return;
        }
        const url = `${target.url}/dashboard`;
        if (c.json) return c.out.data({ name: c.name, url });
        c.out.line(url);
        c.out.info('sign in with the admin key: `crawl4ai-mcp dashboard --key-only` prints it');
        const cmd = opts.open && process.stdout.isTTY ? opener(c.env) : undefined;
        if (cmd) {
          // the URL is an argument, never a shell string; the browser outlives this process
          const child = spawn(cmd[0]!, [...cmd.slice(1), url], { detached: true, stdio: 'ignore' });
          child.on('error', () => undefined);
          child.unref();
        }
      });
  },
};

import type { CommandModule } from '../program.js';
import { withSession } from '../deploy-options.js';
import { cloudflareOf, credentialsOf } from '../stored-credentials.js';
import { CliError, ExitCode } from '../../ground/errors.js';
import { describeIdleStop } from '../../bootstrap/idle-stop.js';

export const statusCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('status')
      .description('health of the VM, Crawl4AI and the Worker; cost so far; drift between state and cloud')
      .addHelpText('after', '\nExample:\n  crawl4ai-mcp status --name work --json')
      .action(async () => {
        const c = ctx();
        const [{ loadDeployment }, { deploymentStatus }] = await Promise.all([import('../../conductor/session.js'), import('../../conductor/status.js')]);
        const state = await loadDeployment(c.name, c.env);
        // Load the cloud's SDK (main-thread work) while the secret store unlocks (scrypt runs on
        // libuv's threads): the two overlap on separate cores. deploymentStatus reuses the import.
        import('../../conductor/providers.js').then((m) => m.loadProvider(state.provider ?? '')).catch(() => undefined);
        const report = await withSession(c, async (session) => {
          session.reporter.step(`asking ${state.provider?.toUpperCase()}, Cloudflare and the Worker`);
          return deploymentStatus(state, await credentialsOf(state, session), await cloudflareOf(state, session), session);
        });
        if (c.json) {
          c.out.data(report);
        } else {
          const mark = (ok: boolean) => (ok ? c.out.ok('') : c.out.fail('')).trimEnd();
          c.out.line(c.out.style('bold', `${report.name}`) + ` — ${report.provider?.toUpperCase()} ${report.region ?? ''}, size ${report.size ?? '?'}, ${report.network ?? ''} network`);
          c.out.line(`${mark(report.vm.state === 'running')} VM: ${report.vm.state}${report.vm.instanceType ? ` (${report.vm.instanceType}${report.vm.cpuCredits ? `, CPU credits ${report.vm.cpuCredits}` : ''})` : ''}${report.vm.detail ? ` — ${report.vm.detail}` : ''}${report.vm.held ? ' — held (stop --hold): tool calls do not wake it; crawl4ai-mcp start' : ''}`);
          c.out.line(`  address: ${report.address.publicIp ?? '-'}${report.address.hostname ? ` (${report.address.hostname})` : ''}`);
          if (report.vm.image) c.out.line(`  image: ${'ref' in report.vm.image ? report.vm.image.ref : `unknown — ${report.vm.image.unknown}`}`);
          if (report.tunnel) {
            const t = report.tunnel;
            const say = t.status === 'healthy' ? `healthy, ${t.connectors} connector${t.connectors === 1 ? '' : 's'}` : t.status === 'inactive' ? 'inactive (cloudflared on the VM has not connected yet)' : t.status === 'down' ? 'down (cloudflared on the VM is not connected)' : `${t.status}${t.error ? ` — ${t.error}` : ''}`;
            c.out.line(`${mark(t.status === 'healthy')} Cloudflare Tunnel: ${say}`);
          }
          c.out.line(`${mark(report.worker.ok)} Worker: ${report.worker.url ?? '-'}${report.worker.error ? ` — ${report.worker.error}` : ''}`);
          c.out.line(`${mark(report.crawl4ai.ok)} Crawl4AI through the Worker: ${report.crawl4ai.ok ? `healthy${report.crawl4ai.version ? ` (${report.crawl4ai.version})` : ''}` : report.crawl4ai.error ?? 'unreachable'}`);
          if (report.usage) {
            const u = report.usage;
            c.out.line('error' in u ? `  usage: unknown — ${u.error}` : `  usage: ${u.calls} tool calls (${u.today} today), ${u.errors} errors, ${u.bytes} bytes returned, ${u.keys} active key${u.keys === 1 ? '' : 's'}`);
          }
          if (report.memory) {
            const m = report.memory;
            c.out.line('error' in m ? `  memory: unknown — ${m.error}` : `  memory: ${m.memoryPercent.toFixed(0)}% in use by Crawl4AI${m.memoryPressure ? ` (pressure ${m.memoryPressure.toLowerCase()})` : ''}`);
          }
          if (report.suggestion) {
            const a = report.suggestion;
            const delta = `${a.monthlyDeltaUsd >= 0 ? '+' : '−'}$${Math.abs(a.monthlyDeltaUsd).toFixed(2)}/month`;
            const why = a.direction === 'larger' ? `memory is ${a.memoryPercent.toFixed(0)}% full (Crawl4AI refuses new browsers at 95%)` : `memory is only ${a.memoryPercent.toFixed(0)}% used`;
            c.out.line(`  suggestion: size ${a.size} — ${why}; ${a.command} (${delta}, running all month; one reading, check again under your usual load)`);
          }
          c.out.line(`  cost so far: $${report.cost.soFarUsd.toFixed(2)} since ${report.cost.since.slice(0, 10)} (about $${report.cost.monthlyUsd.toFixed(2)}/month running)`);
          if (report.idleStopMinutes !== undefined) c.out.line(`  idle auto-stop: ${report.idleStopMinutes ? `after ${describeIdleStop(report.idleStopMinutes)} without a crawl request` : 'off'}`);
          c.out.line(`  cost now: $${report.cost.hourlyUsd.toFixed(4)}/hour while ${report.vm.state === 'running' ? 'running' : report.vm.state}`);
          const drift = report.drift.missing.length + report.drift.unexpected.length;
          c.out.line(`${mark(drift === 0)} drift: ${drift === 0 ? 'none' : ''}${report.drift.missing.map((m) => `missing ${m}`).concat(report.drift.unexpected.map((u) => `unexpected ${u.kind} ${u.id}`)).join('; ')}`);
        }
        const healthy =
          report.vm.state === 'running' && report.worker.ok && report.crawl4ai.ok && report.drift.missing.length === 0 && (!report.tunnel || report.tunnel.status === 'healthy');
        if (!healthy && report.vm.state !== 'stopped') {
          throw new CliError('the deployment is not healthy', { exitCode: ExitCode.failed, hint: 'see the ✘ lines; `crawl4ai-mcp start` if the VM is stopped, re-run `init` to repair' });
        }
      });
  },
};

import type { CommandModule } from '../program.js';
import { CliError, ExitCode } from '../../ground/errors.js';

export const doctorCommand: CommandModule = {
  register(program, ctx) {
    program
      .command('doctor')
      .description('check this machine: Node.js, secret store, wrangler, Docker, config directory')
      .action(async () => {
        const c = ctx();
        const { runDoctor } = await import('../../conductor/doctor.js');
        const report = await runDoctor(c.env);
        if (c.json) {
          c.out.data(report);
        } else {
          for (const check of report.checks) {
            const mark = check.status === 'ok' ? c.out.ok('') : check.status === 'warn' ? c.out.style('yellow', '!') + ' ' : c.out.fail('');
            c.out.line(`${mark.trimEnd()} ${check.title}: ${check.detail}`);
            if (check.hint && check.status !== 'ok') c.out.line(`    ${c.out.style('dim', 'fix: ' + check.hint)}`);
          }
        }
        if (!report.ok) throw new CliError('some checks failed', { exitCode: ExitCode.failed, hint: 'see the ✘ lines above' });
      });
  },
};

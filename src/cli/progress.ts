import type { CommandContext } from './context.js';
import { redact } from '../ground/redact.js';

/**
 * Progress of a long command. On a terminal it is an ora spinner on stderr (each finished step
 * keeps a ✔ line); elsewhere (CI, pipes, --json) plain `› step` lines on stderr, so logs stay
 * readable and stdout stays clean.
 */
export interface Progress {
  step(message: string): void;
  /** ends the current step as done (ok) or failed */
  end(ok: boolean): void;
}

export async function createProgress(c: CommandContext): Promise<Progress> {
  // A terminal that reports no width (some pseudo-terminals) makes a spinner's redraw arithmetic
  // go wrong, so it gets plain lines too.
  const tty = Boolean(process.stderr.isTTY) && (process.stderr.columns ?? 0) > 0 && !c.json && !c.verbose;
  if (!tty) {
    return {
      step: (m) => c.out.info(`› ${m}`),
      end: () => {},
    };
  }
  const { default: ora } = await import('ora');
  const spinner = ora({ stream: process.stderr, color: 'cyan', isEnabled: true, discardStdin: false });
  let current: string | null = null;
  return {
    step(message) {
      if (current) spinner.succeed(redact(current));
      current = message;
      spinner.start(redact(message));
    },
    end(ok) {
      if (!current) return;
      if (ok) spinner.succeed(redact(current));
      else spinner.fail(redact(current));
      current = null;
    },
  };
}

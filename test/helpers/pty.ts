import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/**
 * A terminal session for wizard tests: util-linux `script` gives the CLI a real pseudo-terminal
 * (so @inquirer/prompts runs exactly as for a person), and this drives it like `expect`:
 * wait for text on the screen, then type.
 */
export class PtySession {
  private readonly child: ChildProcessWithoutNullStreams;
  screen = '';
  readonly exited: Promise<number | null>;

  constructor(command: string, env: NodeJS.ProcessEnv) {
    // `script` leaves the terminal 0x0; give it a real size as a terminal window would have.
    this.child = spawn('script', ['-qfec', `stty cols 120 rows 40; ${command}`, '/dev/null'], { env: { ...env, TERM: 'xterm-256color' } });
    this.child.stdout.on('data', (d) => (this.screen += d.toString()));
    this.child.stderr.on('data', (d) => (this.screen += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** the screen text without ANSI escape sequences */
  get text(): string {
    return clean(this.screen);
  }

  /** Types `keys` and waits until the terminal redraws with `expected` on it. */
  async press(keys: string, expected: RegExp | string): Promise<void> {
    const mark = this.screen.length;
    this.type(keys);
    await this.waitFor(expected, 30_000, mark);
  }

  /**
   * Waits until `pattern` shows on the screen. With `since` (a previous `screen.length`), only
   * output written after that point counts, e.g. the redraw that follows a keypress.
   */
  async waitFor(pattern: RegExp | string, timeoutMs = 30_000, since = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const view = () => clean(this.screen.slice(since));
    const match = () => (typeof pattern === 'string' ? view().includes(pattern) : pattern.test(view()));
    while (!match()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; screen:\n${this.text.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  type(keys: string): void {
    this.child.stdin.write(keys);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\r/g, '');
}

export const KEY = { enter: '\r', down: '\u001b[B', up: '\u001b[A', ctrlC: '\u0003' } as const;

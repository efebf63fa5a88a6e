import { redact } from '../ground/redact.js';

/**
 * Everything the CLI prints goes through here, so that redaction, --json and colour rules hold
 * everywhere. Colour is on only for a TTY without NO_COLOR (https://no-color.org) and never in
 * --json mode.
 */
export interface OutputOptions {
  json: boolean;
  verbose: boolean;
  color?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export function colorEnabled(stream: NodeJS.WritableStream & { isTTY?: boolean }, env = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

const codes = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2, bold: 1 } as const;
type Style = keyof typeof codes;

export class Output {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly color: boolean;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;

  constructor(opts: OutputOptions) {
    this.json = opts.json;
    this.verbose = opts.verbose;
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
    this.color = !opts.json && (opts.color ?? colorEnabled(this.out as NodeJS.WritableStream & { isTTY?: boolean }));
  }

  style(s: Style, text: string): string {
    return this.color ? `\u001b[${codes[s]}m${text}\u001b[0m` : text;
  }

  /** A line of human output on stdout (suppressed in --json mode so stdout stays parseable). */
  line(text = ''): void {
    if (!this.json) this.out.write(redact(text) + '\n');
  }

  /** The --json result: exactly one JSON document on stdout. */
  data(value: unknown): void {
    this.out.write(redact(JSON.stringify(value, null, 2)) + '\n');
  }

  /** One compact JSON document per line (NDJSON), for output that streams (`logs --follow --json`). */
  record(value: unknown): void {
    this.out.write(redact(JSON.stringify(value)) + '\n');
  }

  /**
   * Prints text that deliberately contains the listed secret values (all other secrets stay
   * masked). Used only where showing a secret is the point, e.g. `connect`.
   */
  reveal(text: string, values: readonly string[]): void {
    this.out.write(redact(text, new Set(values)));
  }

  /** Progress and diagnostics go to stderr so stdout stays clean for piping. */
  info(text: string): void {
    if (!this.json) this.err.write(redact(text) + '\n');
  }

  warn(text: string): void {
    this.err.write(redact(`${this.style('yellow', 'warning:')} ${text}`) + '\n');
  }

  debug(text: string): void {
    if (this.verbose) this.err.write(redact(this.style('dim', text)) + '\n');
  }

  error(text: string): void {
    this.err.write(redact(text) + '\n');
  }

  ok(text: string): string {
    return `${this.style('green', '✔')} ${text}`;
  }

  fail(text: string): string {
    return `${this.style('red', '✘')} ${text}`;
  }
}

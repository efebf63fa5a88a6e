import { expect } from 'vitest';
import { lines, type CliResult } from './cli.js';

/**
 * What a CLI run told its user is true to form: a success says so; a failure is one `error:` line
 * and one `hint:` line with no stack trace; a SIGKILLed run (a simulated crash) says nothing.
 */
export function expectTruthfulOutcome(r: CliResult, what: string): void {
  if (r.code === 0 || r.signal === 'SIGKILL') return;
  const out = lines(r.stderr).filter((l) => !l.startsWith('›'));
  expect(out.some((l) => l.startsWith('error: ')), `${what}: ${r.stderr}`).toBe(true);
  expect(out.some((l) => l.startsWith('hint: ')), `${what}: ${r.stderr}`).toBe(true);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

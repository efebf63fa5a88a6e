import { expect } from 'vitest';
import { CliError } from '../../src/ground/errors.js';
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

/** The CliError a promise rejects with (fails the test when it resolves or throws something else). */
export async function cliRejection(p: Promise<unknown>): Promise<CliError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return e as CliError;
  }
  throw new Error('expected a rejection');
}

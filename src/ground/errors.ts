/**
 * One error type for everything the CLI reports to a user: a message, a hint saying how to fix it,
 * and the process exit code. The table below is the single source of truth (README mirrors it).
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  credentials: 3,
  capacity: 4,
  notFound: 5,
  conflict: 6,
  interrupted: 130,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

export const EXIT_CODE_TABLE: ReadonlyArray<{ code: number; name: ExitCodeName; meaning: string }> = [
  { code: 0, name: 'ok', meaning: 'success' },
  { code: 1, name: 'failed', meaning: 'the operation failed (cloud error, timeout, unhealthy service)' },
  { code: 2, name: 'usage', meaning: 'usage error or bad input (unknown command, bad flag, missing answer with --yes)' },
  { code: 3, name: 'credentials', meaning: 'credentials missing or invalid, or a permission is missing' },
  { code: 4, name: 'capacity', meaning: 'cloud capacity or quota exhausted' },
  { code: 5, name: 'notFound', meaning: 'the deployment or resource does not exist' },
  { code: 6, name: 'conflict', meaning: 'another command holds the deployment lock' },
  { code: 130, name: 'interrupted', meaning: 'interrupted (Ctrl-C)' },
];

export interface CliErrorOptions {
  hint?: string;
  exitCode?: number;
  cause?: unknown;
}

export class CliError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, opts: CliErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CliError';
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? ExitCode.failed;
  }
}

export const usageError = (message: string, hint?: string) =>
  new CliError(message, { hint, exitCode: ExitCode.usage });
export const credentialsError = (message: string, hint?: string, cause?: unknown) =>
  new CliError(message, { hint, exitCode: ExitCode.credentials, cause });
export const notFoundError = (message: string, hint?: string) =>
  new CliError(message, { hint, exitCode: ExitCode.notFound });
export const capacityError = (message: string, hint?: string, cause?: unknown) =>
  new CliError(message, { hint, exitCode: ExitCode.capacity, cause });

/**
 * A run that may not ask (`--yes`, or no terminal) met a question: say which of the two it was,
 * and name the flag and env var that answer it.
 */
export function missingAnswer(what: string, flag: string, envVar?: string, why: 'yes' | 'no-terminal' = 'yes'): CliError {
  const via = envVar ? `${flag} or ${envVar}` : flag;
  return why === 'yes'
    ? usageError(`--yes was given but ${what} is not set`, `pass ${via}`)
    : usageError(`${what} is not set and there is no terminal to ask`, `pass ${via}`);
}

export function isCliError(e: unknown): e is CliError {
  return e instanceof CliError;
}

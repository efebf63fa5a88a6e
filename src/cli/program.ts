import { Command, CommanderError, Option } from 'commander';
import { CliError, ExitCode, isCliError } from '../ground/errors.js';
import { redact } from '../ground/redact.js';
import { registerEnvSecrets } from '../secrets/env.js';
import { makeContext, type CommandContext, type GlobalOptions } from './context.js';
import { commands } from './commands/index.js';
import { VERSION } from '../ground/version.js';

export type ContextFactory = () => CommandContext;

/** A command module: adds its subcommand to the program. Heavy imports happen inside actions. */
export interface CommandModule {
  register(program: Command, ctx: ContextFactory): void;
}

export function buildProgram(): Command {
  const program = new Command('crawl4ai-mcp')
    .description('Your own private web crawler for AI assistants: Crawl4AI on your cloud VM, served as MCP tools by your own Cloudflare Worker.')
    .version(VERSION, '-V, --version')
    .addOption(new Option('-n, --name <deployment>', 'deployment name (a-z, 0-9, -; 1-32 chars)').env('CRAWL4AI_MCP_NAME').default('default'))
    .option('--json', 'print machine-readable JSON on stdout')
    .option('-y, --yes', 'never prompt; a missing answer is an error naming the flag to set')
    .option('--verbose', 'print diagnostic detail and stack traces')
    .showHelpAfterError('(run crawl4ai-mcp --help for usage)')
    .configureHelp({ sortSubcommands: false })
    .exitOverride();

  const ctx: ContextFactory = () => makeContext(program.opts<GlobalOptions>());
  for (const mod of commands) mod.register(program, ctx);
  return program;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  registerEnvSecrets();
  const program = buildProgram();
  let stderrBuffer = '';
  // Every command, not just the root: a subcommand copies its output settings when it is
  // created, so without this commander printed its own error (and usage) before ours.
  const capture = (cmd: Command): void => {
    cmd.configureOutput({
      writeErr: (s) => {
        stderrBuffer += s;
      },
    });
    for (const sub of cmd.commands) capture(sub);
  };
  capture(program);
  const verbose = argv.includes('--verbose') || process.env.CRAWL4AI_MCP_VERBOSE === '1';
  let interrupted = false;
  const onSigint = () => {
    // a second Ctrl-C does not wait
    if (interrupted) process.exit(ExitCode.interrupted);
    interrupted = true;
    process.stderr.write('\ninterrupted: saving the state file\n');
    // Every step is journaled before its cloud call and written atomically, so the state file is
    // always at a point a rerun can resume from; the grace lets a write under way land. The call
    // in flight is abandoned: create calls carry idempotency tokens, so a rerun does not repeat it.
    setTimeout(() => {
      for (const line of afterInterrupt(argv)) process.stderr.write(`${line}\n`);
      process.exit(ExitCode.interrupted);
    }, INTERRUPT_GRACE_MS).unref();
  };
  process.on('SIGINT', onSigint);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (e) {
    return reportError(e, verbose, stderrBuffer);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** How long Ctrl-C waits for a state write under way before exiting. */
const INTERRUPT_GRACE_MS = 300;

/** What to do after Ctrl-C: resume or clean up, for the commands that change a deployment. */
function afterInterrupt(argv: string[]): string[] {
  const command = argv.find((a) => ['init', 'destroy', 'scale', 'stop', 'start'].includes(a));
  const i = argv.findIndex((a) => a === '--name' || a === '-n');
  const nameArg = i >= 0 && argv[i + 1] ? ` --name ${argv[i + 1]}` : '';
  if (command === 'init') {
    return [
      `error: init was interrupted; what it created so far is recorded in the state file`,
      `hint: run \`crawl4ai-mcp init${nameArg}\` again to resume where it stopped, or \`crawl4ai-mcp destroy${nameArg}\` to remove what was created`,
    ];
  }
  if (command === 'destroy') {
    return ['error: destroy was interrupted; what is left is recorded in the state file', `hint: run \`crawl4ai-mcp destroy${nameArg}\` again to finish`];
  }
  if (command) return [`error: ${command} was interrupted`, `hint: run \`crawl4ai-mcp ${command}${nameArg}\` again, or \`crawl4ai-mcp status${nameArg}\` to see where things are`];
  return ['interrupted'];
}

function reportError(e: unknown, verbose: boolean, commanderStderr: string): number {
  if (e instanceof CommanderError) {
    // --help and --version end in a CommanderError with exit code 0.
    if (e.exitCode === 0) return 0;
    const first = commanderStderr.split('\n').find((l) => l.trim()) ?? e.message;
    process.stderr.write(redact(first.replace(/^error: /, 'error: ')) + '\n');
    process.stderr.write('hint: run crawl4ai-mcp --help for usage\n');
    return ExitCode.usage;
  }
  if (isInterrupt(e)) {
    process.stderr.write('interrupted\n');
    return ExitCode.interrupted;
  }
  const err = isCliError(e) ? e : new CliError(e instanceof Error ? e.message : String(e), { cause: e });
  process.stderr.write(redact(`error: ${err.message}`) + '\n');
  if (err.hint) process.stderr.write(redact(`hint: ${err.hint}`) + '\n');
  if (verbose) {
    const trace = err.cause instanceof Error ? err.cause.stack : err.stack;
    if (trace) process.stderr.write(redact(trace) + '\n');
  } else if (!isCliError(e)) {
    process.stderr.write('hint: run again with --verbose for details\n');
  }
  return err.exitCode;
}

function isInterrupt(e: unknown): boolean {
  // @inquirer/prompts throws ExitPromptError on Ctrl-C.
  return e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError');
}

import { DEPLOYMENT_NAME_RE } from '../ground/paths.js';
import { usageError } from '../ground/errors.js';
import { Output } from './output.js';

/** What every command receives: the global options, parsed and validated once. */
export interface CommandContext {
  name: string;
  json: boolean;
  yes: boolean;
  verbose: boolean;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** true when stdin is a terminal and --yes was not given: prompts are allowed */
  interactive: boolean;
}

export interface GlobalOptions {
  name?: string;
  json?: boolean;
  yes?: boolean;
  verbose?: boolean;
}

export function validateDeploymentName(name: string): string {
  if (!DEPLOYMENT_NAME_RE.test(name)) {
    throw usageError(
      `invalid deployment name "${name}"`,
      'use 1-32 characters from a-z, 0-9 and "-", e.g. --name my-crawler',
    );
  }
  return name;
}

export function makeContext(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CommandContext {
  const json = Boolean(opts.json);
  const verbose = Boolean(opts.verbose) || env.CRAWL4AI_MCP_VERBOSE === '1';
  const yes = Boolean(opts.yes) || env.CRAWL4AI_MCP_YES === '1';
  const name = validateDeploymentName(opts.name ?? env.CRAWL4AI_MCP_NAME ?? 'default');
  return {
    name,
    json,
    yes,
    verbose,
    out: new Output({ json, verbose }),
    env,
    interactive: !yes && Boolean(process.stdin.isTTY),
  };
}

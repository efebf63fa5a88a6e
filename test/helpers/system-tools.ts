/**
 * Tests that need a program from Debian's packages (cloud-init, shellcheck, caddy, a Secret
 * Service...). On a developer's machine without them those tests are skipped, and the run says so
 * loudly, naming the missing programs and the apt-get line that installs them. In CI (and wherever
 * CRAWL4AI_MCP_REQUIRE_SYSTEM_TOOLS=1 is set) a missing program fails the run instead, so no
 * coverage disappears there unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { it, type TestAPI } from 'vitest';

export const REQUIRE_ENV = 'CRAWL4AI_MCP_REQUIRE_SYSTEM_TOOLS';

/** command -> the Debian package that provides it */
export interface SystemTool {
  cmd: string;
  pkg: string;
}

export const required = (env: NodeJS.ProcessEnv = process.env): boolean => env[REQUIRE_ENV] === '1' || env[REQUIRE_ENV] === 'true';

const found = new Map<string, boolean>();
export function hasCommand(cmd: string): boolean {
  let ok = found.get(cmd);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
    found.set(cmd, ok);
  }
  return ok;
}

export function missingTools(tools: readonly SystemTool[]): SystemTool[] {
  return tools.filter((t) => !hasCommand(t.cmd));
}

/** "cloud-init, shellcheck (apt-get install -y cloud-init shellcheck)" */
export function installHint(missing: readonly SystemTool[]): string {
  return `${missing.map((t) => t.cmd).join(', ')} not installed; install with: apt-get install -y ${[...new Set(missing.map((t) => t.pkg))].join(' ')}`;
}

/**
 * `it` when every tool is there; else `it.skip` with a warning on stderr (locally), or an `it`
 * that fails naming what is missing (CI / CRAWL4AI_MCP_REQUIRE_SYSTEM_TOOLS=1).
 */
export function itWith(tools: readonly SystemTool[]): TestAPI {
  const missing = missingTools(tools);
  if (missing.length === 0) return it;
  const hint = installHint(missing);
  if (required()) {
    const fail = () => {
      throw new Error(`${hint} (required because ${REQUIRE_ENV} is set)`);
    };
    const failing = (name: string) => it(name, fail);
    failing.each = (table: readonly unknown[]) => (name: string) => it.each(table as unknown[])(name, fail);
    return failing as unknown as TestAPI;
  }
  warnOnce(hint);
  return it.skip;
}

const warned = new Set<string>();
function warnOnce(hint: string): void {
  if (warned.has(hint)) return;
  warned.add(hint);
  process.stderr.write(`\n*** SKIPPING tests that need system tools: ${hint}. CI requires them (${REQUIRE_ENV}=1). ***\n\n`);
}

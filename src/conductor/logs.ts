/**
 * `logs`: without SSH. The VM's bootstrap log from the cloud's console-output API (`--boot`), and
 * Crawl4AI's recent log lines through the Worker's admin API (default). Both are text this tool
 * did not write, so what looks like a secret is masked before it is printed (the bootstrap's
 * console can echo tokens), besides the process-wide masking of known secrets on output.
 */
import { CliError, ExitCode } from '../ground/errors.js';
import { redactLikelySecrets } from '../ground/redact.js';
import { sleep } from '../ground/wait.js';
import type { ProviderCredentials } from '../model/deployment.js';
import { unseenTail } from '../providers/console.js';
import type { SecretStore } from '../secrets/store.js';
import { Journal } from '../state/journal.js';
import type { DeploymentState } from '../state/schema.js';
import { AdminClient, adminTarget, type OriginLogLine } from './keys.js';
import { loadProvider } from './providers.js';
import { providerContext, specOf, stateStore, type Session } from './session.js';

export interface FollowOptions {
  /** print at most the last N lines of what is there now (then, with follow, everything new) */
  lines: number;
  follow: boolean;
  /** how often follow polls */
  intervalMs: number;
  /** whole, redacted lines, in order */
  emit(lines: string[]): void;
  /** follow stops when this aborts (the CLI exits 130 on Ctrl-C without it) */
  signal?: AbortSignal;
}

/** The last `n` complete lines of `text` and the unfinished rest (kept until its newline comes). */
function splitLines(text: string): { whole: string[]; rest: string } {
  const parts = text.replace(/\r\n?/g, '\n').split('\n');
  const rest = parts.pop() ?? '';
  return { whole: parts, rest };
}

/** The VM's serial console (cloud-init, the bootstrap, crawl4ai-run.sh), from the cloud's console API. */
export async function bootLog(state: DeploymentState, credentials: ProviderCredentials, s: Session, o: FollowOptions): Promise<{ truncated: boolean }> {
  const spec = specOf(state);
  const provider = await loadProvider(spec.provider);
  if (!provider.consoleOutput) {
    throw new CliError(`${spec.provider} gives no console output of its VMs`, { exitCode: ExitCode.usage, hint: 'use `crawl4ai-mcp logs` (without --boot) for Crawl4AI\'s own log lines' });
  }
  const read = provider.consoleOutput.bind(provider);
  const ctx = providerContext(spec, credentials, s);
  const journal = new Journal(stateStore(s.env), state);
  let out = await read(ctx, journal);
  const truncated = Boolean(out.truncated);
  let { whole, rest } = splitLines(out.text);
  o.emit(whole.slice(-o.lines).map(redactLikelySecrets));
  let seen = out.text;
  while (o.follow && !o.signal?.aborted) {
    await sleep(o.intervalMs, o.signal).catch(() => undefined);
    if (o.signal?.aborted) break;
    const next = out.next;
    out = await read(ctx, journal, next);
    const fresh = next === undefined ? unseenTail(seen, out.text) : out.text;
    seen = next === undefined ? out.text : seen;
    ({ whole, rest } = splitLines(rest + fresh));
    if (whole.length) o.emit(whole.map(redactLikelySecrets));
  }
  if (rest && !o.follow) o.emit([redactLikelySecrets(rest)]);
  return { truncated };
}

const lineText = (l: OriginLogLine) => `${l.time} [${l.source}] ${l.text}`;

/** Crawl4AI's recent errors and janitor events, through the Worker (admin key). */
export async function originLog(state: DeploymentState, secrets: SecretStore, o: FollowOptions & { emitRaw?(lines: OriginLogLine[]): void }): Promise<{ unavailable?: Record<string, string> }> {
  const admin = new AdminClient(await adminTarget(state, secrets));
  const first = await admin.originLogs(o.lines).catch((e: unknown) => {
    // a Worker deployed before `logs` existed has no such route
    if (e instanceof CliError && e.exitCode === ExitCode.notFound && /no admin route/.test(e.message)) {
      throw new CliError("this deployment's Worker is older than `logs` and cannot read Crawl4AI's log lines", {
        exitCode: ExitCode.notFound,
        hint: `re-run \`crawl4ai-mcp init --name ${state.name}\` to redeploy the Worker (it keeps the VM and keys); \`logs --boot\` works meanwhile`,
      });
    }
    throw e;
  });
  const clean = (ls: OriginLogLine[]) => ls.map((l) => ({ ...l, text: redactLikelySecrets(l.text) }));
  const show = (ls: OriginLogLine[]) => (o.emitRaw ? o.emitRaw(clean(ls)) : o.emit(clean(ls).map(lineText)));
  show(first.lines);
  // follow: lines newer than the newest seen, and at that same instant those not seen yet
  let last = first.lines.at(-1)?.time ?? '';
  let atLast = new Set(first.lines.filter((l) => l.time === last).map(lineText));
  while (o.follow && !o.signal?.aborted) {
    await sleep(o.intervalMs, o.signal).catch(() => undefined);
    if (o.signal?.aborted) break;
    const { lines } = await admin.originLogs(500);
    const fresh = lines.filter((l) => l.time > last || (l.time === last && !atLast.has(lineText(l))));
    if (!fresh.length) continue;
    show(fresh);
    last = fresh.at(-1)!.time;
    atLast = new Set(lines.filter((l) => l.time === last).map(lineText));
  }
  return first.unavailable ? { unavailable: first.unavailable } : {};
}

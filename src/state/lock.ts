import { randomBytes } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError, ExitCode, usageError } from '../ground/errors.js';
import { DEPLOYMENT_NAME_RE } from '../ground/paths.js';
import { ensurePrivateDir, errCode, isProcessAlive } from './store.js';

/** Content of `<dir>/<name>.lock`. */
export interface LockInfo {
  pid: number;
  hostname: string;
  command: string;
  startedAt: string;
  /**
   * Random, unique to this acquisition. A stale lock is removed only if the file still holds the
   * very text judged stale (token included): comparing inode numbers is not enough, as ext4 hands
   * a just-freed inode number to the next file created, e.g. a fresh lock another process took.
   */
  token?: string;
}

/** An unreadable lock file younger than this may be one another process is writing right now. */
const GARBAGE_GRACE_MS = 60_000;

/** Locks this process holds: lock file path → what we wrote into it. */
const held = new Map<string, LockInfo>();

export function lockPath(dir: string, name: string): string {
  return path.join(path.resolve(dir), `${name}.lock`);
}

/**
 * Runs `fn` holding the per-deployment lock `<dir>/<name>.lock`, so two commands never mutate
 * one deployment at the same time. Busy → CliError exit 6 naming the holder. A lock whose process
 * is dead (same host), or an unreadable lock file older than a minute, is stale: it is removed
 * (see takeOverStale) and acquisition retried. The lock is released when `fn` settles, on process exit, and on
 * SIGINT/SIGTERM/SIGHUP when nothing else handles the signal (if the CLI installs its own signal
 * handler, that handler decides when to exit; the lock then goes with `finally` or process exit).
 */
export async function withDeploymentLock<T>(
  dir: string,
  name: string,
  command: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!DEPLOYMENT_NAME_RE.test(name)) {
    throw usageError(`invalid deployment name "${name}"`, 'use 1-32 characters from a-z, 0-9 and "-"');
  }
  await ensurePrivateDir(path.resolve(dir));
  const file = lockPath(dir, name);
  const info = await acquire(file, name, command);
  held.set(file, info);
  installHandlers();
  try {
    return await fn();
  } finally {
    releaseSync(file, info);
    held.delete(file);
    if (held.size === 0) uninstallHandlers();
  }
}

/** The current holder of the lock, or null when the deployment is not locked (or the file is unreadable). */
export async function readLock(dir: string, name: string): Promise<LockInfo | null> {
  try {
    return parseLockInfo(await fsp.readFile(lockPath(dir, name), 'utf8'));
  } catch {
    return null;
  }
}

async function acquire(file: string, name: string, command: string): Promise<LockInfo> {
  // A few rounds only: to survive the holder releasing between our open() and our read(), and
  // another process taking over the same stale lock at the same moment.
  for (let round = 0; round < 10; round++) {
    const info: LockInfo = { pid: process.pid, hostname: os.hostname(), command, startedAt: new Date().toISOString(), token: randomBytes(16).toString('hex') };
    try {
      const fh = await fsp.open(file, 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(info)}\n`, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      return info;
    } catch (e) {
      if (errCode(e) !== 'EEXIST') {
        throw new CliError(`cannot create lock file ${file}: ${e instanceof Error ? e.message : String(e)}`, {
          hint: `check that ${path.dirname(file)} is writable`,
          cause: e,
        });
      }
    }
    const verdict = await inspect(file);
    if (verdict.kind === 'gone') continue;
    if (verdict.kind === 'stale') {
      await takeOverStale(file, verdict.text);
      continue;
    }
    throw busyError(file, name, verdict.kind === 'busy' ? verdict.holder : null);
  }
  throw busyError(file, name, null);
}

type Verdict = { kind: 'gone' } | { kind: 'stale'; text: string } | { kind: 'busy'; holder: LockInfo | null };

async function inspect(file: string): Promise<Verdict> {
  let text: string;
  let mtimeMs: number;
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const st = await fh.stat();
      mtimeMs = st.mtimeMs;
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (errCode(e) === 'ENOENT') return { kind: 'gone' };
    return { kind: 'busy', holder: null };
  }
  const holder = parseLockInfo(text);
  if (!holder) {
    return Date.now() - mtimeMs > GARBAGE_GRACE_MS ? { kind: 'stale', text } : { kind: 'busy', holder: null };
  }
  // A pid on another host (shared home directory) cannot be checked: assume it is alive.
  if (holder.hostname !== os.hostname()) return { kind: 'busy', holder };
  if (holder.pid === process.pid) {
    // Ours only if we really hold it; otherwise a dead process that had our pid left it behind.
    const mine = held.get(file);
    return mine && mine.token === holder.token ? { kind: 'busy', holder } : { kind: 'stale', text };
  }
  return isProcessAlive(holder.pid) ? { kind: 'busy', holder } : { kind: 'stale', text };
}

/** A takeover mutex older than this belongs to a process that died during its few milliseconds. */
const TAKEOVER_STALE_MS = 10_000;

/**
 * Removes a stale lock, one process at a time: under `<lock>.takeover` (created exclusively) the
 * lock is read again and unlinked only if it still holds the judged text. Without the mutex, two
 * processes that both judged the same lock stale could interleave read and unlink, and the slower
 * one would unlink the fresh lock the faster one had just taken. Every other path that unlinks a
 * lock is its owner releasing it.
 */
async function takeOverStale(file: string, judged: string): Promise<void> {
  const mutex = `${file}.takeover`;
  try {
    await (await fsp.open(mutex, 'wx', 0o600)).close();
  } catch (e) {
    if (errCode(e) !== 'EEXIST') return;
    try {
      if (Date.now() - (await fsp.stat(mutex)).mtimeMs > TAKEOVER_STALE_MS) await fsp.unlink(mutex);
    } catch {
      // gone meanwhile: fine
    }
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 20)); // another takeover is under way
    return;
  }
  try {
    await removeStaleLock(file, judged);
  } finally {
    await fsp.unlink(mutex).catch(() => undefined);
  }
}

/**
 * Unlinks a stale lock only if the file still holds exactly the text judged stale: a lock another
 * process took meanwhile has its own token, so it differs even when it got the same inode number.
 * Called under the takeover mutex; exported for the test of that race.
 */
export async function removeStaleLock(file: string, judged: string): Promise<boolean> {
  try {
    if ((await fsp.readFile(file, 'utf8')) !== judged) return false;
    await fsp.unlink(file);
    return true;
  } catch {
    return false; // gone already: fine
  }
}

function busyError(file: string, name: string, holder: LockInfo | null): CliError {
  const hint = `wait for it to finish; if that process is gone, delete ${file}`;
  if (!holder) {
    return new CliError(`deployment ${name} is busy: another crawl4ai-mcp command holds ${file}`, {
      hint,
      exitCode: ExitCode.conflict,
    });
  }
  const where = holder.hostname !== os.hostname() ? ` on host ${holder.hostname}` : '';
  return new CliError(
    `deployment ${name} is busy: \`${holder.command}\` (pid ${holder.pid}${where}) started at ${holder.startedAt}`,
    { hint, exitCode: ExitCode.conflict },
  );
}

function parseLockInfo(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo> | null;
    if (
      v &&
      typeof v === 'object' &&
      Number.isInteger(v.pid) &&
      (v.pid as number) > 0 &&
      typeof v.hostname === 'string' &&
      typeof v.command === 'string' &&
      typeof v.startedAt === 'string'
    ) {
      return { pid: v.pid as number, hostname: v.hostname, command: v.command, startedAt: v.startedAt, ...(typeof v.token === 'string' ? { token: v.token } : {}) };
    }
  } catch {
    // not JSON
  }
  return null;
}

/** Synchronous so it can run from an 'exit' handler. Removes the file only if it is still ours. */
function releaseSync(file: string, info: LockInfo): void {
  try {
    const current = parseLockInfo(fs.readFileSync(file, 'utf8'));
    if (current && current.token === info.token) fs.unlinkSync(file);
  } catch {
    // already gone, or unreadable: nothing of ours to remove
  }
}

function releaseAll(): void {
  for (const [file, info] of held) releaseSync(file, info);
  held.clear();
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: ExitCode.interrupted, SIGTERM: 143, SIGHUP: 129 };
const signalHandlers = new Map<NodeJS.Signals, () => void>();
let installed = false;

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', releaseAll);
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) {
    const handler = () => {
      // If the CLI (or anyone else) also listens, it owns shutdown: leave the lock to `finally`/'exit'.
      if (process.listenerCount(sig) > 1) return;
      releaseAll();
      uninstallHandlers();
      process.exit(SIGNAL_EXIT[sig]);
    };
    signalHandlers.set(sig, handler);
    process.on(sig, handler);
  }
}

function uninstallHandlers(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('exit', releaseAll);
  for (const [sig, handler] of signalHandlers) process.removeListener(sig, handler);
  signalHandlers.clear();
}

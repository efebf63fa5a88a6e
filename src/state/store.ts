import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CliError, notFoundError, usageError } from '../ground/errors.js';
import { DEPLOYMENT_NAME_RE, deploymentsDir } from '../ground/paths.js';
import { containsKnownSecret } from '../ground/redact.js';
import { DeploymentState, STATE_SCHEMA_VERSION } from './schema.js';

/**
 * One JSON file per deployment: `<dir>/<name>.json`.
 *
 * Writes are atomic: the new content goes to a temp file in the same directory (mode 0600),
 * is fsync'ed, then renamed over the old file, so a crash at any moment leaves either the old
 * or the new state on disk, never a torn file. Temp files are named `.<name>.json.<pid>.<rand>.tmp`
 * (dot-prefixed, so `list()` never mistakes them for state) and are swept once their writer is dead.
 */
export class StateStore {
  readonly dir: string;
  /** per-name write queue, so concurrent writes from one process land in call order */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(dir: string = deploymentsDir()) {
    this.dir = path.resolve(dir);
  }

  path(name: string): string {
    assertName(name);
    return path.join(this.dir, `${name}.json`);
  }

  /** The state of deployment `name`, or null when it has no state file. */
  async read(name: string): Promise<DeploymentState | null> {
    const file = this.path(name);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (errCode(e) === 'ENOENT') return null;
      throw new CliError(`cannot read state file ${file}: ${errMessage(e)}`, {
        hint: `check that ${file} is a readable file owned by you`,
        cause: e,
      });
    }
    return parseStateFile(file, name, text);
  }

  /** Like read(), but a missing deployment is an error (exit 5). */
  async require(name: string): Promise<DeploymentState> {
    const state = await this.read(name);
    if (!state) {
      throw notFoundError(`no deployment named ${name}`, `run crawl4ai-mcp init --name ${name}`);
    }
    return state;
  }

  /**
   * Validates and persists `state`. Sets `state.updatedAt` (on the caller's object too) to the
   * current time (strictly later than the previous value). Throws, leaving the file untouched,
   * when the state is invalid or any string in it is a registered secret.
   */
  async write(state: DeploymentState): Promise<void> {
    const name = state?.name;
    assertName(name);
    const file = this.path(name);

    // Everything up to the serialisation is synchronous: the bytes written are the state as it was
    // at the moment of the call, even if the caller mutates it while the write is in flight.
    const secretAt = findSecret(state);
    if (secretAt !== null) {
      throw new CliError(`refusing to write ${file}: ${secretAt} contains a secret value`, {
        hint: 'this is a bug in crawl4ai-mcp: secrets belong in the secret store, never in deployment state',
      });
    }
    const previous = state.updatedAt;
    let now = new Date();
    const prevMs = Date.parse(previous);
    if (Number.isFinite(prevMs) && now.getTime() <= prevMs) now = new Date(prevMs + 1);
    const candidate = { ...state, updatedAt: now.toISOString() };
    const parsed = DeploymentState.safeParse(candidate);
    if (!parsed.success) {
      throw new CliError(`refusing to write invalid state to ${file}: ${describeIssues(parsed.error.issues)}`, {
        hint: 'this is a bug in crawl4ai-mcp; the existing file was left unchanged',
      });
    }
    const text = `${JSON.stringify(parsed.data, null, 2)}\n`;
    state.updatedAt = candidate.updatedAt;

    const prev = this.queues.get(name) ?? Promise.resolve();
    const run = prev.then(() => this.writeFileAtomic(name, file, text));
    const settled = run.catch(() => undefined);
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    try {
      await run;
    } catch (e) {
      // Restore the caller's timestamp: the file on disk still has the old one.
      if (state.updatedAt === candidate.updatedAt) state.updatedAt = previous;
      throw e;
    }
  }

  /** Names of all deployments that have a state file, sorted. */
  async list(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await fsp.readdir(this.dir);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return [];
      throw e;
    }
    return entries
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .filter((n) => DEPLOYMENT_NAME_RE.test(n))
      .sort();
  }

  /** Deletes the state file of `name` (no error when there is none). */
  async remove(name: string): Promise<void> {
    const file = this.path(name);
    try {
      await fsp.unlink(file);
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
    }
    await fsyncDir(this.dir);
  }

  private async writeFileAtomic(name: string, file: string, text: string): Promise<void> {
    await ensurePrivateDir(this.dir);
    await this.sweepTempFiles(name);
    const tmp = path.join(this.dir, `.${name}.json.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    let renamed = false;
    try {
      const fh = await fsp.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await renameWithRetry(tmp, file);
      renamed = true;
      await fsyncDir(this.dir);
    } catch (e) {
      if (!renamed) await fsp.unlink(tmp).catch(() => undefined);
      throw new CliError(`cannot write state file ${file}: ${errMessage(e)}`, {
        hint: `check that ${this.dir} is writable and the disk is not full`,
        cause: e,
      });
    }
  }

  /** Removes temp files left by writers of this deployment that died mid-write. */
  private async sweepTempFiles(name: string): Promise<void> {
    let entries: string[];
    try {
      entries = await fsp.readdir(this.dir);
    } catch {
      return;
    }
    const prefix = `.${name}.json.`;
    for (const f of entries) {
      if (!f.startsWith(prefix) || !f.endsWith('.tmp')) continue;
      const pid = Number(f.slice(prefix.length).split('.')[0]);
      if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isProcessAlive(pid)) continue;
      await fsp.unlink(path.join(this.dir, f)).catch(() => undefined);
    }
  }
}

/** Parses and validates the text of a state file, turning every problem into a CliError naming the file. */
export function parseStateFile(file: string, name: string, text: string): DeploymentState {
  const moveAside = `move it aside (e.g. mv "${file}" "${file}.bak"); cloud resources it tracked can still be found by their tags with crawl4ai-mcp destroy --name ${name}`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CliError(`state file ${file} is not valid JSON (${errMessage(e)})`, { hint: moveAside, cause: e });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || (raw as { tool?: unknown }).tool !== 'crawl4ai-mcp') {
    throw new CliError(`${file} is not a crawl4ai-mcp state file`, { hint: moveAside });
  }
  const version = (raw as { schemaVersion?: unknown }).schemaVersion;
  if (typeof version === 'number' && version > STATE_SCHEMA_VERSION) {
    throw new CliError(`${file} was written by a newer crawl4ai-mcp (schema ${version})`, {
      hint: `upgrade crawl4ai-mcp (npm install -g crawl4ai-mcp@latest), or ${moveAside}`,
    });
  }
  const parsed = DeploymentState.safeParse(raw);
  if (!parsed.success) {
    throw new CliError(`${file} is not a valid crawl4ai-mcp state file: ${describeIssues(parsed.error.issues)}`, {
      hint: moveAside,
    });
  }
  if (parsed.data.name !== name) {
    throw new CliError(`${file} describes deployment "${parsed.data.name}", not "${name}"`, {
      hint: `rename it back to ${parsed.data.name}.json, or ${moveAside}`,
    });
  }
  return parsed.data;
}

function assertName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !DEPLOYMENT_NAME_RE.test(name)) {
    throw usageError(
      `invalid deployment name "${String(name)}"`,
      'use 1-32 characters from a-z, 0-9 and "-", e.g. --name my-crawler',
    );
  }
}

/** Path (e.g. `outputs.url`) of the first string or key that contains a known secret, or null. */
function findSecret(value: unknown, at = 'state'): string | null {
  if (typeof value === 'string') return containsKnownSecret(value) ? at : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findSecret(value[i], `${at}[${i}]`);
      if (hit) return hit;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (containsKnownSecret(k)) return `a key in ${at}`;
      const hit = findSecret(v, `${at}.${k}`);
      if (hit) return hit;
    }
  }
  return null;
}

function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .concat(issues.length > 3 ? [`and ${issues.length - 3} more`] : [])
    .join('; ');
}

/** Creates `dir` (and missing parents) with mode 0700, and tightens it to 0700 if it already existed. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') await fsp.chmod(dir, 0o700).catch(() => undefined);
}

async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync on Windows
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort: some filesystems refuse fsync on directories
  }
}

async function renameWithRetry(from: string, to: string): Promise<void> {
  // On Windows a rename over a file another process has open fails transiently.
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.rename(from, to);
      return;
    } catch (e) {
      const code = errCode(e);
      if (process.platform !== 'win32' || attempt >= 10 || !['EPERM', 'EACCES', 'EBUSY'].includes(code ?? '')) throw e;
      await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
    }
  }
}

/** process.kill(pid, 0): ESRCH means no such process; EPERM means it exists but belongs to someone else. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) !== 'ESRCH';
  }
}

export function errCode(e: unknown): string | undefined {
  return e && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

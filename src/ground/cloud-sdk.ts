import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CliError, ExitCode } from './errors.js';
import { cacheDir } from './paths.js';

/**
 * Terraform's model for cloud SDKs: the package ships only AWS's; GCP's (~145 MB) and Azure's
 * (~143 MB) are installed the first time that cloud is used, by `npm ci` from a lockfile shipped in
 * the package (cloud-sdks/<cloud>/package-lock.json: exact versions, and npm checks each integrity
 * hash), into the tool's cache directory. A package tree that already holds the pinned versions
 * (a development checkout, where they are devDependencies) is used as it is.
 */
export type CloudSdkName = 'gcp' | 'azure';

const LABEL: Record<CloudSdkName, string> = { gcp: 'GCP', azure: 'Azure' };
/** on disk once installed (measured with npm 11, Linux) */
const SIZE_MB: Record<CloudSdkName, number> = { gcp: 145, azure: 143 };

export interface SdkHost {
  env: NodeJS.ProcessEnv;
  progress(message: string): void;
  debug(message: string): void;
}

export interface CloudSdk {
  /** 'package': found in crawl4ai-mcp's own node_modules; 'cache': installed on demand */
  from: 'package' | 'cache';
  /** imports a module of the SDK (a package name or a deep path) from where it was found */
  import<T>(specifier: string): Promise<T>;
}

/** This package's root: dist/ground/ (or src/ground/ under the tests) -> ../../ */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

export function sdkManifestDir(cloud: CloudSdkName): string {
  return path.join(PACKAGE_ROOT, 'cloud-sdks', cloud);
}

/** The exact versions pinned for one cloud: { "@google-cloud/compute": "7.8.0", ... } */
export function pinnedSdk(cloud: CloudSdkName): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(sdkManifestDir(cloud), 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return pkg.dependencies;
}

/** The directory in the cache for these exact pins: a changed lockfile gets a new directory. */
export function sdkInstallDir(cloud: CloudSdkName, env: NodeJS.ProcessEnv): string {
  const lock = fs.readFileSync(path.join(sdkManifestDir(cloud), 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex').slice(0, 12);
  return path.join(cacheDir(env), 'sdks', `${cloud}-${hash}`);
}

/** The version of `name` that Node's resolution from this module would find, if any. */
function versionSeenFromHere(name: string): string | undefined {
  for (let dir = HERE; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'node_modules', name, 'package.json');
    if (fs.existsSync(pkg)) return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version?: string }).version;
    if (path.dirname(dir) === dir) return undefined;
  }
}

const loaded = new Map<CloudSdkName, Promise<CloudSdk>>();

/** The SDK of one cloud, installed first if needed (once per process, once per machine). */
export function cloudSdk(cloud: CloudSdkName, host: SdkHost): Promise<CloudSdk> {
  let p = loaded.get(cloud);
  if (!p) {
    p = locate(cloud, host);
    loaded.set(cloud, p);
    p.catch(() => loaded.delete(cloud));
  }
  return p;
}

async function locate(cloud: CloudSdkName, host: SdkHost): Promise<CloudSdk> {
  const pins = pinnedSdk(cloud);
  if (Object.entries(pins).every(([name, version]) => versionSeenFromHere(name) === version)) {
    return { from: 'package', import: <T>(s: string) => import(s) as Promise<T> };
  }
  const dir = sdkInstallDir(cloud, host.env);
  if (!fs.existsSync(path.join(dir, LOADER))) await installSdk(cloud, dir, pins, host);
  else host.debug(`${cloud}: SDK from ${dir}`);
  // A module inside the install directory resolves bare specifiers from its node_modules, with
  // the ESM conditions (createRequire would pick the CommonJS builds).
  const loader = (await import(pathToFileURL(path.join(dir, LOADER)).href)) as { load(s: string): Promise<unknown> };
  return { from: 'cache', import: <T>(s: string) => loader.load(s) as Promise<T> };
}

const LOADER = 'load.mjs';
/** npm error codes that mean the registry could not be reached (ENOTCACHED: --offline and not in npm's cache) */
const OFFLINE_CODES = ['ENOTCACHED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH'];

async function installSdk(cloud: CloudSdkName, dir: string, pins: Record<string, string>, host: SdkHost): Promise<void> {
  const label = LABEL[cloud];
  const what = Object.entries(pins).map(([n, v]) => `${n}@${v}`).join(', ');
  host.progress(`installing the ${label} SDK on first use (${what}) into ${dir}; once, about ${SIZE_MB[cloud]} MB`);
  const sdksDir = path.dirname(dir);
  fs.mkdirSync(sdksDir, { recursive: true });
  removeAbandonedInstalls(cloud, sdksDir);
  const tmp = fs.mkdtempSync(path.join(sdksDir, `.${cloud}-install-`));
  try {
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(sdkManifestDir(cloud), f), path.join(tmp, f));
    const started = Date.now();
    await runNpmCi(tmp, label, host);
    fs.writeFileSync(path.join(tmp, LOADER), '// written by crawl4ai-mcp: imports resolve from this directory\nexport const load = (specifier) => import(specifier);\n');
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // another process finished the same install first: use theirs
      if (!fs.existsSync(path.join(dir, LOADER))) throw e;
    }
    host.debug(`${cloud}: SDK installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    pruneOlder(cloud, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** A run killed mid-install (SIGKILL, power) leaves its temp folder; one an hour old is abandoned. */
function removeAbandonedInstalls(cloud: CloudSdkName, sdksDir: string): void {
  for (const name of fs.readdirSync(sdksDir)) {
    const p = path.join(sdksDir, name);
    if (name.startsWith(`.${cloud}-install-`) && Date.now() - fs.statSync(p).mtimeMs > 3_600_000) fs.rmSync(p, { recursive: true, force: true });
  }
}

/** Installs made for earlier pins are dead weight once the new one works. */
function pruneOlder(cloud: CloudSdkName, keep: string): void {
  const parent = path.dirname(keep);
  for (const name of fs.readdirSync(parent)) {
    if (name.startsWith(`${cloud}-`) && path.join(parent, name) !== keep) fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

async function runNpmCi(cwd: string, label: string, host: SdkHost): Promise<void> {
  const { execa } = await import('execa');
  // An outer `npx --prefix …` or `-g` must not redirect this install.
  const env = { ...host.env };
  for (const k of ['npm_config_prefix', 'npm_config_global', 'npm_config_location', 'npm_config_dry_run']) delete env[k];
  // Scripts off: the SDKs need none, and no code runs before its integrity was checked and it is imported.
  const args = ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'];
  host.debug(`${label}: npm ${args.join(' ')} (in ${cwd})`);
  const r = await execa('npm', args, { cwd, env, extendEnv: false, reject: false, stdin: 'ignore', windowsHide: true });
  if (!r.failed) return;
  const out = `${String(r.stderr)}\n${String(r.stdout)}`;
  host.debug(`npm said:\n${out.trim()}`);
  const code = /npm (?:error|ERR!) code (\S+)/.exec(out)?.[1] ?? `exit ${r.exitCode ?? '?'}`;
  if ((r as { code?: string }).code === 'ENOENT') {
    throw new CliError(`npm was not found; it installs the ${label} SDK on first use`, {
      hint: 'install Node.js with npm (https://nodejs.org) so that `npm` is on PATH, then run the command again',
    });
  }
  if (OFFLINE_CODES.includes(code) || /network|fetch failed/i.test(code)) {
    throw new CliError(`could not download the ${label} SDK: the npm registry is not reachable (npm error ${code})`, {
      hint: 'connect to the internet (or check `npm config get registry` and your proxy) and run the command again; it is downloaded once',
      exitCode: ExitCode.failed,
    });
  }
  if (code === 'EINTEGRITY') {
    throw new CliError(`the downloaded ${label} SDK does not match the integrity hashes crawl4ai-mcp pins (npm error EINTEGRITY); nothing was installed`, {
      hint: 'a registry mirror or proxy served different bytes: run `npm cache verify` and try again, and report it if it persists',
      exitCode: ExitCode.failed,
    });
  }
  throw new CliError(`installing the ${label} SDK failed (npm error ${code})`, {
    hint: 'run the command again with --verbose to see npm\'s output',
    exitCode: ExitCode.failed,
  });
}

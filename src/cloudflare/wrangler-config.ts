/**
 * Renders the Worker's wrangler config from templates/worker/wrangler.template.jsonc. Used by
 * `crawl4ai-mcp dev` (local workerd) and by deploy. Output is plain JSON (wrangler reads
 * `wrangler.json`), never containing a secret: secrets go through `.dev.vars` (dev) or
 * `wrangler secret bulk` on stdin (deploy).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../ground/version.js';
import type { ContainerSpec } from '../model/deployment.js';

/** Kept current so that custom ports (>= 2024-09-02) and new runtime fixes apply. */
export const WORKER_COMPATIBILITY_DATE = '2026-11-01';

export const TEMPLATE_PATH = fileURLToPath(new URL('../../templates/worker/wrangler.template.jsonc', import.meta.url));
/** The compiled Worker entry (tsc output) that wrangler bundles. */
export const WORKER_MAIN_PATH = fileURLToPath(new URL('../worker/index.js', import.meta.url));

export interface WranglerConfigInput {
  /** Worker name, e.g. `crawl4ai-mcp-default`. */
  scriptName: string;
  /** Entry module; absolute, or relative to the directory the config is written to. */
  mainPath: string;
  /** Crawl4AI base URL (public mode, dev). Omitted → empty ORIGIN_URL (tunnel mode). */
  originUrl?: string;
  /** The OAUTH_KV namespace id (made by init); omitted → a binding without id (dev, dry runs). */
  oauthKvId?: string;
  /** Workers VPC service id (tunnel mode): adds the CRAWL4AI vpc_service binding. */
  vpcServiceId?: string;
  /** provider `cloudflare`: Crawl4AI as a Cloudflare Container (the `containers` entry, its Durable Object). */
  container?: ContainerConfig;
  llmEnabled?: boolean;
  compatibilityDate?: string;
  /** Extra plain vars (never secrets). */
  vars?: Record<string, string>;
  accountId?: string;
  workersDev?: boolean;
  version?: string;
}

/** The Container that runs Crawl4AI next to the Worker (provider `cloudflare`). */
export type ContainerConfig = ContainerSpec;

/** The Durable Object class and binding of the container (src/worker/container.ts). */
export const CONTAINER_CLASS_NAME = 'Crawl4aiContainer';
export const CONTAINER_BINDING = 'CRAWL4AI_CONTAINER';

/** Removes // and /* *\/ comments and trailing commas outside strings. */
export function stripJsonc(src: string): string {
  let out = '';
  let i = 0;
  let inStr = false;
  while (i < src.length) {
    const c = src[i]!;
    if (inStr) {
      out += c;
      if (c === '\\') {
        out += src[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === '"') inStr = false;
      i++;
      continue;
    }
    if (c === '"') {
      inStr = true;
      out += c;
      i++;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

function substitute(value: unknown, map: Record<string, string>): unknown {
  if (typeof value === 'string') return value.replace(/__([A-Z_]+)__/g, (m, k: string) => map[k] ?? m);
  if (Array.isArray(value)) return value.map((v) => substitute(v, map));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, map)]));
  }
  return value;
}

export function renderWranglerConfig(input: WranglerConfigInput, templateText = readFileSync(TEMPLATE_PATH, 'utf8')): Record<string, unknown> {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.scriptName)) {
    throw new Error(`invalid Worker name "${input.scriptName}" (a-z, 0-9 and "-", at most 63 characters)`);
  }
  const tpl = JSON.parse(stripJsonc(templateText)) as Record<string, unknown>;
  delete tpl.$schema;
  const cfg = substitute(tpl, {
    SCRIPT_NAME: input.scriptName,
    MAIN_PATH: input.mainPath,
    COMPATIBILITY_DATE: input.compatibilityDate ?? WORKER_COMPATIBILITY_DATE,
    ORIGIN_URL: input.originUrl ?? '',
    LLM_ENABLED: input.llmEnabled ? 'true' : 'false',
    VERSION: input.version ?? VERSION,
    VPC_SERVICE_ID: input.vpcServiceId ?? '',
    OAUTH_KV_ID: input.oauthKvId ?? '',
  }) as Record<string, unknown>;
  if (!input.oauthKvId) for (const kv of (cfg.kv_namespaces ?? []) as Array<Record<string, unknown>>) if (kv.binding === 'OAUTH_KV') delete kv.id;
  if (!input.vpcServiceId) delete cfg.vpc_services;
  if (input.container) addContainer(cfg, input.container);
  else delete cfg.containers;
  if (input.vars) cfg.vars = { ...(cfg.vars as Record<string, string>), ...input.vars };
  if (input.accountId) cfg.account_id = input.accountId;
  if (input.workersDev !== undefined) cfg.workers_dev = input.workersDev;
  const left = JSON.stringify(cfg).match(/__[A-Z_]+__/);
  if (left) throw new Error(`wrangler template placeholder ${left[0]} was not filled`);
  return cfg;
}

/** The `containers` entry, its Durable Object binding and migration, and the vars the Worker reads. */
function addContainer(cfg: Record<string, unknown>, c: ContainerConfig): void {
  const [entry] = cfg.containers as Array<Record<string, unknown>>;
  cfg.containers = [{ ...entry, class_name: CONTAINER_CLASS_NAME, image: c.image, instance_type: c.instanceType, max_instances: c.maxInstances }];
  const dos = cfg.durable_objects as { bindings: Array<Record<string, string>> };
  dos.bindings.push({ name: CONTAINER_BINDING, class_name: CONTAINER_CLASS_NAME });
  (cfg.migrations as Array<Record<string, unknown>>).push({ tag: 'v2-container', new_sqlite_classes: [CONTAINER_CLASS_NAME] });
  cfg.vars = {
    ...(cfg.vars as Record<string, string>),
    CONTAINER_SLEEP_AFTER: c.sleepAfter,
    CONTAINER_MAX_INSTANCES: String(c.maxInstances),
    CONTAINER_COLD_START_SECONDS: String(c.coldStartSeconds),
  };
}

/** Writes `wrangler.json` into `dir` and returns its path. */
export function writeWranglerConfig(dir: string, input: WranglerConfigInput): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'wrangler.json');
  writeFileSync(file, JSON.stringify(renderWranglerConfig(input), null, 2) + '\n');
  return file;
}

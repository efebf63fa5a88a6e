import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { isIPv4 } from 'node:net';
import { usageError } from '../ground/errors.js';
import { IDLE_STOP_ACTIONS, type IdleStopAction } from './idle-stop.js';

/**
 * The VM bootstrap: renders templates/cloud-init/ into one #cloud-config document (EC2 UserData,
 * GCE `user-data` metadata, Azure customData). The templates are plain files so that the real
 * tools can check them: `cloud-init schema`, `shellcheck` and `caddy validate` (test/cloud-init.test.ts).
 *
 * Template syntax, deliberately small:
 *   {{name}}              a value (every value is validated below, so none needs quoting)
 *   {{#name}} / {{/name}} on lines of their own: keep the lines between only when `name` is set
 *                         (`public`, `tunnel`, `acmeEmail`)
 *   {{file:NAME}}         on a line of its own: the rendered template NAME, each line indented
 *                         like the placeholder (how scripts go into write_files block scalars)
 *   {{gzfile:NAME}}       the same, gzipped and base64-encoded on one line, for a write_files
 *                         entry with `encoding: gz+b64` (the shell scripts: EC2 allows 16 KB)
 * Every file but user-data.yaml loses its full-line comments when rendered (shebangs and
 * `# shellcheck` directives stay): EC2 allows 16 KB of user data, and the commented templates
 * in the repository are the documentation.
 * Secrets ({{crawl4aiToken}}, {{tunnelToken}}) are known only to user-data.yaml, where they sit in
 * the 0600 write_files entries; an included file that names one fails to render.
 */

/** The Crawl4AI image every deployment runs: pinned to a 0.9.x release, never `latest`. */
export const CRAWL4AI_IMAGE = 'unclecode/crawl4ai:0.9.4';
/** Where Crawl4AI listens on the VM (host loopback; the container publishes nothing else). */
export const CRAWL4AI_PORT = 11235;
/**
 * The user data a VM keeps after its first healthy boot (see Provider.scrubBootstrap): valid
 * cloud-config that does nothing and holds no secret. cloud-init's write_files ran once per
 * instance, so the secrets stay only in the VM's 0600 files and nothing runs again on later boots.
 */
export const SCRUBBED_USER_DATA =
  '#cloud-config\n' +
  '# crawl4ai-mcp: the first-boot bootstrap of this VM ran and was cleared from its user data;\n' +
  '# its secrets live only in root-owned 0600 files on the VM\'s disk.\n';
/**
 * Secret-free user data that also sets the idle auto-stop minutes on every boot (cloud-init's
 * bootcmd runs at each boot, write_files only at the first): how `scale --idle-stop` reaches a VM
 * that nothing logs in to. The value is an integer, checked here, so the command needs no quoting.
 */
export function secretFreeUserData(idleStopMinutes: number): string {
  if (!(Number.isInteger(idleStopMinutes) && idleStopMinutes >= 0)) throw new Error(`invalid idleStopMinutes ${idleStopMinutes}`);
  return (
    SCRUBBED_USER_DATA +
    `# idle auto-stop after ${idleStopMinutes} min without a crawl request (0 = off), set by \`scale --idle-stop\`\n` +
    `bootcmd:\n  - [sed, -i, "s/^IDLE_STOP_MINUTES=.*/IDLE_STOP_MINUTES=${idleStopMinutes}/", /etc/crawl4ai/settings.env]\n`
  );
}

/**
 * crawl4ai-run.sh prints `crawl4ai-mcp: image <ref> digest sha256:<hex>` to the serial console at
 * each start of Crawl4AI. The image the VM actually runs, pinned by digest, from the latest such
 * line of a console output (`repo:tag@sha256:…`), or undefined when there is none yet.
 */
export function runningImageFromConsole(output: string): string | undefined {
  let found: string | undefined;
  for (const m of output.matchAll(/crawl4ai-mcp: image (\S+) digest (sha256:[0-9a-f]{64})\b/g)) {
    const [, image, digest] = m as unknown as [string, string, string];
    found = `${image.split('@')[0]}@${digest}`;
  }
  return found;
}

/** EC2 limits raw UserData to 16 KB (GCE metadata: 256 KB, Azure customData: 64 KB). */
export const USER_DATA_MAX_BYTES = 16 * 1024;

export interface BootstrapInput {
  /** deployment name ([a-z0-9-]{1,32}) */
  deployment: string;
  network: 'tunnel' | 'public';
  /** default CRAWL4AI_IMAGE */
  crawl4aiImage: string;
  /** secret: the static Bearer token of Crawl4AI (CRAWL4AI_API_TOKEN) */
  crawl4aiToken: string;
  /** docker --memory for the container, e.g. '3g': memoryLimitFor(size memoryGiB) */
  memoryLimit: string;
  /**
   * the instance's RAM that memoryLimit was planned for. When given, the VM derives the limit again
   * from its real RAM if that differs (after `scale`, the user data does not run again).
   */
  memoryGiB?: number;
  // public mode
  /** the name Caddy gets a certificate for, e.g. '203-0-113-7.sslip.io' or the user's own */
  hostname?: string;
  /** enables the ZeroSSL issuer in Caddy as a fallback to Let's Encrypt */
  acmeEmail?: string;
  // tunnel mode
  /** secret: the cloudflared connector token of the deployment's tunnel */
  tunnelToken?: string;
  /** idle auto-stop: power the VM off after this many minutes without a crawl request; 0 or absent = never */
  idleStopMinutes?: number;
  /** how the watchdog stops the VM: a guest power-off (default), or on Azure a deallocation by the VM's managed identity */
  idleStopAction?: IdleStopAction;
}

const TEMPLATE_DIR = new URL('../../templates/cloud-init/', import.meta.url);
const templateCache = new Map<string, string>();

function template(name: string): string {
  let text = templateCache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(name, TEMPLATE_DIR), 'utf8');
    templateCache.set(name, text);
  }
  return text;
}

type Context = Readonly<Record<string, string | undefined>>;

const SECTION_RE = /^[ \t]*\{\{([#/])([A-Za-z0-9_]+)\}\}[ \t]*$/;
const INCLUDE_RE = /^([ \t]*)\{\{(file|gzfile):([A-Za-z0-9_.-]+)\}\}[ \t]*$/;
const VALUE_RE = /\{\{([A-Za-z0-9_]+)\}\}/g;

const COMMENT_RE = /^[ \t]*#(?!!)(?![ \t]*shellcheck\b)/;

function render(name: string, ctx: Context, includeCtx: Context): string {
  const stripComments = name !== 'user-data.yaml';
  const out: string[] = [];
  const open: Array<{ name: string; keep: boolean }> = [];
  const keeping = () => open.every((s) => s.keep);
  const lines = template(name).split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const section = SECTION_RE.exec(line);
    if (section) {
      const [, kind, key] = section as unknown as [string, string, string];
      if (kind === '#') {
        open.push({ name: key, keep: Boolean(ctx[key]) });
      } else if (open.pop()?.name !== key) {
        throw new Error(`${name}: {{/${key}}} closes no open section`);
      }
      continue;
    }
    if (!keeping() || (stripComments && COMMENT_RE.test(line))) continue;
    const include = INCLUDE_RE.exec(line);
    if (include) {
      const [, indent, how, file] = include as unknown as [string, string, string, string];
      const text = render(file, includeCtx, includeCtx);
      if (how === 'gzfile') {
        // level 9 and no name or mtime in the header: the same input gives the same bytes (EC2 ClientToken)
        out.push(indent + gzipSync(text, { level: 9 }).toString('base64'));
        continue;
      }
      for (const inner of text.split('\n').slice(0, -1)) {
        out.push(inner === '' ? '' : indent + inner);
      }
      continue;
    }
    out.push(
      line.replace(VALUE_RE, (_m, key: string) => {
        const value = ctx[key];
        if (value === undefined) throw new Error(`${name}: {{${key}}} has no value here`);
        return value;
      }),
    );
  }
  if (open.length > 0) throw new Error(`${name}: section {{#${open.at(-1)?.name}}} is not closed`);
  return out.join('\n') + '\n';
}

// --- validation: every value is checked so that no template needs quoting or escaping ----------

const DEPLOYMENT_RE = /^[a-z0-9-]{1,32}$/;
/** repository[:tag][@sha256:digest], with a tag or a digest, and the tag never `latest` */
const IMAGE_RE = /^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const MEMORY_RE = /^[1-9][0-9]*[mg]$/;
const TOKEN_RE = /^[A-Za-z0-9_-]{32,512}$/;
/** cloudflared tokens are base64 of JSON; allow both base64 alphabets and padding */
const TUNNEL_TOKEN_RE = /^[A-Za-z0-9+/_-]{32,8192}={0,2}$/;
const EMAIL_RE = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/;
const LABEL_RE = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A DNS name Caddy can get a certificate for; a usage error (exit 2) otherwise. */
export function checkHostname(hostname: string): void {
  const labels = hostname.split('.');
  if (hostname.length > 253 || labels.length < 2 || !labels.every((l) => LABEL_RE.test(l)) || isIPv4(hostname)) {
    throw usageError(
      `invalid hostname "${hostname}"`,
      'give a DNS name in lower case (e.g. crawl.example.com) whose A record points at the VM; a bare IP address cannot be used',
    );
  }
}

export function checkAcmeEmail(email: string): void {
  if (!EMAIL_RE.test(email)) throw usageError(`invalid ACME email "${email}"`, 'give an address such as you@example.com');
}

function validate(input: BootstrapInput): void {
  if (!DEPLOYMENT_RE.test(input.deployment)) throw new Error(`invalid deployment name "${input.deployment}"`);
  if (input.network !== 'tunnel' && input.network !== 'public') throw new Error(`invalid network mode "${String(input.network)}"`);
  const tag = /:([^:/@]+)(?:@|$)/.exec(input.crawl4aiImage)?.[1];
  if (!IMAGE_RE.test(input.crawl4aiImage) || tag === 'latest' || (!tag && !input.crawl4aiImage.includes('@sha256:'))) {
    throw usageError(
      `invalid Crawl4AI image "${input.crawl4aiImage}"`,
      `pin a release tag or digest, e.g. ${CRAWL4AI_IMAGE}`,
    );
  }
  if (!MEMORY_RE.test(input.memoryLimit)) throw new Error(`invalid memory limit "${input.memoryLimit}" (want e.g. 3g)`);
  if (input.memoryGiB !== undefined && !(Number.isInteger(input.memoryGiB) && input.memoryGiB > 0)) {
    throw new Error(`invalid memoryGiB ${input.memoryGiB}`);
  }
  if (input.idleStopMinutes !== undefined && !(Number.isInteger(input.idleStopMinutes) && input.idleStopMinutes >= 0)) {
    throw new Error(`invalid idleStopMinutes ${input.idleStopMinutes}`);
  }
  if (input.idleStopAction !== undefined && !IDLE_STOP_ACTIONS.includes(input.idleStopAction)) throw new Error(`invalid idleStopAction "${String(input.idleStopAction)}"`);
  // Secret values are never echoed in these messages.
  if (!TOKEN_RE.test(input.crawl4aiToken)) {
    throw new Error('invalid Crawl4AI API token: want 32-512 characters of [A-Za-z0-9_-] (e.g. 32 random bytes as hex)');
  }
  if (input.network === 'public') {
    if (!input.hostname) throw usageError('public network mode needs a hostname', 'pass --hostname or let the tool use <ip>.sslip.io');
    checkHostname(input.hostname);
    if (input.acmeEmail !== undefined) checkAcmeEmail(input.acmeEmail);
    if (input.tunnelToken !== undefined) throw new Error('a tunnel token was given for public network mode');
  } else {
    if (!input.tunnelToken || !TUNNEL_TOKEN_RE.test(input.tunnelToken)) {
      throw new Error('tunnel network mode needs the tunnel connector token (base64, as the Cloudflare API returns it)');
    }
    if (input.hostname !== undefined || input.acmeEmail !== undefined) {
      throw new Error('hostname and acmeEmail belong to public network mode only');
    }
  }
}

function contexts(input: BootstrapInput): { top: Context; files: Context } {
  const files: Context = {
    deployment: input.deployment,
    network: input.network,
    crawl4aiImage: input.crawl4aiImage,
    memoryLimit: input.memoryLimit,
    memoryGiB: input.memoryGiB === undefined ? '' : String(input.memoryGiB),
    public: input.network === 'public' ? 'yes' : undefined,
    tunnel: input.network === 'tunnel' ? 'yes' : undefined,
    hostname: input.hostname,
    acmeEmail: input.acmeEmail,
    idleStopMinutes: String(input.idleStopMinutes ?? 0),
    idleStopAction: input.idleStopAction ?? 'poweroff',
    // the watchdog's Azure path is rendered only for Azure VMs (EC2's 16 KB user data limit)
    azureDeallocate: input.idleStopAction === 'azure-deallocate' ? 'yes' : undefined,
  };
  const top: Context = { ...files, crawl4aiToken: input.crawl4aiToken, tunnelToken: input.tunnelToken };
  return { top, files };
}

/** The full user data (#cloud-config ...). Holds secrets: never log or store it. */
export function renderCloudInit(input: BootstrapInput): string {
  validate(input);
  const { top, files } = contexts(input);
  return render('user-data.yaml', top, files);
}

/** What the user data writes to /etc/caddy/Caddyfile (public mode only). Holds no secret. */
export function renderCaddyfile(input: BootstrapInput): string {
  validate(input);
  if (input.network !== 'public') throw new Error('the Caddyfile belongs to public network mode only');
  return render('Caddyfile', contexts(input).files, contexts(input).files);
}

/**
 * One rendered file of templates/cloud-init/ as the user data writes it (a script, unit, ...),
 * for tests and for `--verbose` listings. Files with secrets are not renderable through this.
 */
export function renderBootstrapFile(input: BootstrapInput, name: string): string {
  validate(input);
  if (name === 'user-data.yaml') throw new Error('use renderCloudInit for the user data');
  const { files } = contexts(input);
  return render(name, files, files);
}

/** 203.0.113.7 -> 203-0-113-7.sslip.io (both services resolve the dashed form to the address). */
export function hostnameForIp(ip: string, domain: 'sslip.io' | 'nip.io'): string {
  if (!isIPv4(ip)) throw new Error(`not an IPv4 address: "${ip}"`);
  if (domain !== 'sslip.io' && domain !== 'nip.io') throw new Error(`unsupported wildcard DNS domain "${String(domain)}"`);
  return `${ip.split('.').join('-')}.${domain}`;
}

/**
 * docker --memory for a VM with `memoryGiB` of RAM: all but 1/8 of it (at least 1 GiB) for the
 * container, the rest for the OS, Docker and Caddy/cloudflared. 4 -> '3g', 8 -> '7g', 16 -> '14g'.
 * crawl4ai-run.sh applies the same rule on the VM after a resize.
 */
export function memoryLimitFor(memoryGiB: number): string {
  if (!Number.isInteger(memoryGiB) || memoryGiB < 4) {
    throw new Error(`Crawl4AI needs a VM with at least 4 GiB of RAM (got ${memoryGiB})`);
  }
  const reserve = Math.max(1, Math.floor(memoryGiB / 8));
  return `${memoryGiB - reserve}g`;
}

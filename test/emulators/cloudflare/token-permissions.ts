// API tokens and their permission groups, enforced on every API path: a token lacking the group a path needs gets
// 403 {code:10000, "Authentication error"}, as Cloudflare answers (wrangler prints "Authentication error [code: 10000]").
//
// Group names are the API's ("Workers Scripts Write"; the dashboard says Edit). A read (GET) is allowed by the Read
// or the Write group of its family, anything else needs Write; Connectivity Directory has Read / Bind / Admin instead:
// reads take any of them, creating and deleting VPC services takes Admin, and uploading a Worker with a
// vpc_service / vpc_network binding takes Bind (wrangler#15704: "Needed permissions are Connectivity Directory -
// Bind"). Cloudflare does not say Admin includes Bind, so this emulator does not assume it.
import { CfApiError, ErrorCodes, hexId } from './envelope.js';
import { formBody, type ApiHandler, type ApiRequest, type Router } from './router.js';

type Family = 'Workers Scripts' | 'Workers Containers' | 'Account Settings' | 'Cloudflare Tunnel' | 'Connectivity Directory' | 'Workers KV Storage' | 'User Details' | 'Memberships' | 'API Tokens';

/** Every group this emulator knows: the default token has them all. */
export const ALL_PERMISSION_GROUPS: readonly string[] = Object.freeze([
  'Workers Scripts Read', 'Workers Scripts Write',
  'Account Settings Read', 'Account Settings Write',
  'Cloudflare Tunnel Read', 'Cloudflare Tunnel Write',
  'Connectivity Directory Read', 'Connectivity Directory Bind', 'Connectivity Directory Admin',
  'Workers KV Storage Read', 'Workers KV Storage Write',
  'Workers Containers Read', 'Workers Containers Write',
  'User Details Read', 'Memberships Read', 'API Tokens Read',
]);

/** Which family an API path belongs to; 'any' = every valid token may call it. First match wins. */
const FAMILY_BY_PATH: ReadonlyArray<[RegExp, Family | 'any']> = [
  [/^\/user\/tokens\/verify$/, 'any'],
  [/^\/accounts\/[^/]+\/tokens\/verify$/, 'any'],
  [/^\/user\/tokens\/[^/]+$/, 'API Tokens'],
  [/^\/accounts\/[^/]+\/tokens\/[^/]+$/, 'API Tokens'],
  [/^\/user$/, 'User Details'],
  [/^\/memberships$/, 'Memberships'],
  [/^\/accounts$/, 'any'], // lists the accounts the token can see
  [/^\/accounts\/[^/]+$/, 'Account Settings'],
  [/^\/accounts\/[^/]+\/cfd_tunnel(\/|$)/, 'Cloudflare Tunnel'],
  [/^\/accounts\/[^/]+\/connectivity\/directory(\/|$)/, 'Connectivity Directory'],
  [/^\/accounts\/[^/]+\/storage\/kv(\/|$)/, 'Workers KV Storage'],
  [/^\/accounts\/[^/]+\/workers(\/|$)/, 'Workers Scripts'],
  // container applications (wrangler deploy with a `containers` entry, wrangler delete of a Worker that owns one)
  [/^\/accounts\/[^/]+\/containers(\/|$)/, 'Workers Containers'],
];

/** The groups that allow `method` on `path` (any one suffices); 'any' when none is needed. */
export function groupsAllowing(method: string, path: string): string[] | 'any' {
  const hit = FAMILY_BY_PATH.find(([re]) => re.test(path));
  // a route without a family is a bug in this table: fail loudly rather than let it through
  if (!hit) throw new Error(`token-permissions: no permission family for ${method} ${path}; add it to FAMILY_BY_PATH`);
  const family = hit[1];
  if (family === 'any') return 'any';
  const read = method === 'GET' || method === 'HEAD';
  if (family === 'Connectivity Directory') {
    return read ? ['Connectivity Directory Read', 'Connectivity Directory Bind', 'Connectivity Directory Admin'] : ['Connectivity Directory Admin'];
  }
  if (family === 'User Details' || family === 'Memberships' || family === 'API Tokens') return [`${family} Read`];
  return read ? [`${family} Read`, `${family} Write`] : [`${family} Write`];
}

const UPLOAD_PATH = /^\/accounts\/[^/]+\/workers\/scripts\/[^/]+(\/versions)?$/;

export interface EmulatedToken {
  id: string;
  value: string | undefined;
  groups: string[];
}

export class TokenRegistry {
  readonly #byValue = new Map<string, EmulatedToken>();
  readonly #default: EmulatedToken;

  /**
   * `main` is the emulator's apiToken (undefined: any token is accepted and acts as the main one); `extra` adds
   * tokens with their own groups, e.g. a token lacking "Connectivity Directory Bind".
   */
  constructor(main: string | undefined, mainGroups: readonly string[], extra: Record<string, readonly string[]> = {}) {
    this.#default = { id: hexId(), value: main, groups: [...mainGroups] };
    if (main !== undefined) this.#byValue.set(main, this.#default);
    for (const [value, groups] of Object.entries(extra)) this.#byValue.set(value, { id: hexId(), value, groups: [...groups] });
  }

  get hasExtraTokens(): boolean {
    return this.#byValue.size > (this.#default.value === undefined ? 0 : 1);
  }

  /** The caller's token; undefined when it is not one the emulator issued. */
  of(req: Pick<ApiRequest, 'headers'>): EmulatedToken | undefined {
    const value = String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
    return this.#byValue.get(value) ?? (this.#default.value === undefined ? this.#default : undefined);
  }

  byId(id: string): EmulatedToken | undefined {
    return [this.#default, ...this.#byValue.values()].find((t) => t.id === id);
  }

  /** Throws Cloudflare's 403 / 10000 unless the caller's token may make this request. */
  async authorize(req: ApiRequest): Promise<void> {
    const token = this.of(req);
    const refuse = (): never => {
      throw new CfApiError(403, ErrorCodes.authentication, 'Authentication error');
    };
    if (!token) refuse();
    const allowed = groupsAllowing(req.method, req.path);
    if (allowed !== 'any' && !allowed.some((g) => token!.groups.includes(g))) refuse();
    if ((req.method === 'PUT' || req.method === 'POST') && UPLOAD_PATH.test(req.path) && String(req.headers['content-type'] ?? '').startsWith('multipart/form-data')) {
      if ((await uploadedBindingTypes(req)).some((t) => t === 'vpc_service' || t === 'vpc_network') && !token!.groups.includes('Connectivity Directory Bind')) refuse();
    }
  }
}

async function uploadedBindingTypes(req: ApiRequest): Promise<string[]> {
  try {
    const metadata = (await formBody(req)).get('metadata');
    const text = typeof metadata === 'string' ? metadata : metadata ? await metadata.text() : '{}';
    const bindings = (JSON.parse(text) as { bindings?: Array<{ type?: unknown }> }).bindings ?? [];
    return bindings.map((b) => String(b.type));
  } catch {
    return []; // the upload handler reports malformed bodies itself
  }
}

/** A router whose every handler first checks the caller's token against the path's permission group. */
export function withTokenPermissions(router: Router, tokens: TokenRegistry): Router {
  const guarded = Object.create(router) as Router;
  guarded.match = (method: string, path: string) => {
    const route = router.match(method, path);
    if (!route) return route;
    const handler: ApiHandler = async (req) => {
      await tokens.authorize(req);
      return route.handler(req);
    };
    return { handler, params: route.params };
  };
  return guarded;
}

import type { NetworkMode } from '../model/deployment.js';

/**
 * The permissions of the Cloudflare API token crawl4ai-mcp needs, by network mode. The same list
 * is in templates/policies/cloudflare-token.json (test/policies.test.ts keeps the two equal);
 * `doctor` and the wizard check them before anything is created and name the missing one.
 *
 * Labels follow the dashboard's token editor ("Account › Workers Scripts › Edit"); the API's
 * permission groups call Edit "Write" (e.g. "Workers Scripts Write").
 */
export type PermissionScope = 'Account' | 'User';
export type PermissionAccess = 'Read' | 'Edit' | 'Bind' | 'Admin';

export interface CloudflarePermission {
  /** permission group as the dashboard shows it */
  name: string;
  scope: PermissionScope;
  access: PermissionAccess;
  /** what crawl4ai-mcp does with it */
  why: string;
  /** the network modes that need it */
  modes: NetworkMode[];
  /** false: nice to have (wrangler output), not needed to deploy, check or destroy */
  required: boolean;
  /** false: the name of this permission group is not confirmed from a primary source */
  nameConfirmed: boolean;
  /** the permission group's name in the API (token policies), e.g. "Workers Scripts Write" */
  apiGroup: string;
  /**
   * a read-only call that fails without this permission group: how `doctor` can check it without
   * creating anything. A read proves the group is granted, not that its access is Edit. null: no
   * read tells (Bind); `doctor` then looks for `apiGroup` in the token's own policies, which only
   * a token allowed to read itself (User › API Tokens › Read) can show.
   */
  probe: { method: 'GET'; path: string } | null;
}

export const CLOUDFLARE_TOKEN_PERMISSIONS: readonly CloudflarePermission[] = [
  {
    name: 'Workers Scripts',
    scope: 'Account',
    access: 'Edit',
    why: "upload the Worker and its Durable Object migration (wrangler deploy; API keys live in that SQLite Durable Object), set its secrets (wrangler secret bulk), enable its workers.dev route, delete it on destroy",
    modes: ['tunnel', 'public', 'container'],
    required: true,
    nameConfirmed: true,
    apiGroup: 'Workers Scripts Write',
    probe: { method: 'GET', path: '/accounts/{account_id}/workers/scripts' },
  },
  {
    name: 'Workers KV Storage',
    scope: 'Account',
    access: 'Edit',
    why: "create the deployment's OAUTH_KV namespace, where @cloudflare/workers-oauth-provider keeps OAuth clients, grants and hashed tokens (claude.ai connectors), bind it to the Worker, delete it on destroy",
    modes: ['tunnel', 'public', 'container'],
    required: true,
    nameConfirmed: true,
    apiGroup: 'Workers KV Storage Write',
    probe: { method: 'GET', path: '/accounts/{account_id}/storage/kv/namespaces?per_page=1' },
  },
  {
    name: 'Account Settings',
    scope: 'Account',
    access: 'Read',
    why: 'read the account the token belongs to (doctor, wrangler account checks)',
    modes: ['tunnel', 'public', 'container'],
    required: true,
    nameConfirmed: true,
    apiGroup: 'Account Settings Read',
    probe: { method: 'GET', path: '/accounts/{account_id}' },
  },
  {
    name: 'Cloudflare Tunnel',
    scope: 'Account',
    access: 'Edit',
    why: "create the deployment's remotely-managed tunnel, fetch its connector token, read and clean up its connections, delete it on destroy",
    modes: ['tunnel'],
    required: true,
    nameConfirmed: true,
    apiGroup: 'Cloudflare Tunnel Write',
    probe: { method: 'GET', path: '/accounts/{account_id}/cfd_tunnel?per_page=1' },
  },
  {
    name: 'Connectivity Directory',
    scope: 'Account',
    access: 'Admin',
    why: 'create the Workers VPC service for 127.0.0.1:11235 on the tunnel and delete it on destroy',
    modes: ['tunnel'],
    required: true,
    nameConfirmed: true,
    apiGroup: 'Connectivity Directory Admin',
    probe: { method: 'GET', path: '/accounts/{account_id}/connectivity/directory/services' },
  },
  {
    name: 'Connectivity Directory',
    scope: 'Account',
    access: 'Bind',
    why: "deploy the Worker with its vpc_services binding to that service (wrangler deploy); Cloudflare does not document that Admin includes Bind, so both are asked for",
    modes: ['tunnel'],
    required: true,
    nameConfirmed: true,
    apiGroup: 'Connectivity Directory Bind',
    probe: null,
  },
  {
    name: 'Workers Containers',
    scope: 'Account',
    access: 'Edit',
    why: "provider cloudflare: wrangler deploy creates and updates the Crawl4AI container application; status reads it, stop/start set its max instances, destroy deletes it (wrangler delete does not). The account also needs the Workers Paid plan",
    modes: ['container'],
    required: true,
    // named "Workers Containers" in the Edit Cloudflare Workers token template; not yet in Cloudflare's permissions reference
    nameConfirmed: false,
    apiGroup: 'Workers Containers Write',
    probe: { method: 'GET', path: '/accounts/{account_id}/containers/applications' },
  },
  {
    name: 'User Details',
    scope: 'User',
    access: 'Read',
    why: "optional: lets `wrangler whoami` show the token's user; deploying does not need it (the account id is always passed)",
    modes: ['tunnel', 'public', 'container'],
    required: false,
    nameConfirmed: true,
    apiGroup: 'User Details Read',
    probe: { method: 'GET', path: '/user' },
  },
  {
    name: 'Memberships',
    scope: 'User',
    access: 'Read',
    why: "optional: lets wrangler list the token's accounts when CLOUDFLARE_ACCOUNT_ID is not set; crawl4ai-mcp always sets it",
    modes: ['tunnel', 'public', 'container'],
    required: false,
    nameConfirmed: true,
    apiGroup: 'Memberships Read',
    probe: { method: 'GET', path: '/memberships' },
  },
];

export const CLOUDFLARE_TOKEN_NOTES: readonly string[] = [
  'Create a custom API token (My Profile › API Tokens, or an account-owned token) with the permissions below and Account Resources: Include › the one account you deploy to.',
  'The dashboard labels access as Read/Edit; the API permission groups use Read/Write (e.g. "Workers Scripts Write").',
  'Workers VPC: the permission groups are Connectivity Directory Read / Bind / Admin. Admin creates and deletes VPC services; deploying a Worker with a vpc_services binding needs Bind (wrangler issue #15704, closed 2026-09-18: "Needed permissions are Connectivity Directory - Bind"). Cloudflare does not say Admin includes Bind, so crawl4ai-mcp asks for both.',
  'The tunnel permission is confirmed by Cloudflare\'s docs as Account › Cloudflare Tunnel › Edit; the API reference also accepts "Cloudflare One Connectors Write" or "Cloudflare One Connector: cloudflared Write". `wrangler login` (OAuth) does not include tunnel permissions, so tunnel mode needs an API token.',
  'Durable Objects need no permission of their own: they are part of the Worker upload (Workers Scripts).',
  'Provider cloudflare (Crawl4AI as a Cloudflare Container): Workers Containers › Edit, and an account on the Workers Paid plan; without the plan every containers call is refused, and wrangler deploy fails after uploading the Worker.',
  'doctor checks each permission with its read-only probe; a read proves the group is granted but cannot prove Edit access, so a missing Edit shows up as a clear error on the first create.',
  'No read-only call needs Connectivity Directory › Bind, so doctor checks it in the token\'s own policies; that works only when the token may read itself (User › API Tokens › Read, optional). Otherwise a missing Bind shows up as "Authentication error [code: 10000]" from wrangler deploy.',
];

/** "Account › Workers Scripts › Edit" */
export function permissionLabel(p: Pick<CloudflarePermission, 'scope' | 'name' | 'access'>): string {
  return `${p.scope} › ${p.name} › ${p.access}`;
}

/** The permissions a network mode needs (the optional ones only when asked for). */
export function cloudflarePermissionsFor(mode: NetworkMode, opts: { includeOptional?: boolean } = {}): CloudflarePermission[] {
  return CLOUDFLARE_TOKEN_PERMISSIONS.filter((p) => p.modes.includes(mode) && (p.required || opts.includeOptional === true));
}

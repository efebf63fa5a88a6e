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
export type PermissionAccess = 'Read' | 'Edit' | 'Admin';

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
  /**
   * a read-only call that fails without this permission group: how `doctor` can check it without
   * creating anything. A read proves the group is granted, not that its access is Edit.
   */
  probe: { method: 'GET'; path: string };
}

export const CLOUDFLARE_TOKEN_PERMISSIONS: readonly CloudflarePermission[] = [
  {
    name: 'Workers Scripts',
    scope: 'Account',
    access: 'Edit',
    why: "upload the Worker and its Durable Object migration (wrangler deploy; API keys live in that SQLite Durable Object, so no KV permission is needed), set its secrets (wrangler secret bulk), enable its workers.dev route, delete it on destroy",
    modes: ['tunnel', 'public'],
    required: true,
    nameConfirmed: true,
    probe: { method: 'GET', path: '/accounts/{account_id}/workers/scripts' },
  },
  {
    name: 'Account Settings',
    scope: 'Account',
    access: 'Read',
    why: 'read the account the token belongs to (doctor, wrangler account checks)',
    modes: ['tunnel', 'public'],
    required: true,
    nameConfirmed: true,
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
    probe: { method: 'GET', path: '/accounts/{account_id}/cfd_tunnel?per_page=1' },
  },
  {
    name: 'Connectivity Directory',
    scope: 'Account',
    access: 'Admin',
    why: 'create the Workers VPC service for 127.0.0.1:11235 on the tunnel, bind it in the Worker (vpc_services), delete it on destroy',
    modes: ['tunnel'],
    required: true,
    nameConfirmed: false,
    probe: { method: 'GET', path: '/accounts/{account_id}/connectivity/directory/services' },
  },
  {
    name: 'User Details',
    scope: 'User',
    access: 'Read',
    why: "optional: lets `wrangler whoami` show the token's user; deploying does not need it (the account id is always passed)",
    modes: ['tunnel', 'public'],
    required: false,
    nameConfirmed: true,
    probe: { method: 'GET', path: '/user' },
  },
  {
    name: 'Memberships',
    scope: 'User',
    access: 'Read',
    why: "optional: lets wrangler list the token's accounts when CLOUDFLARE_ACCOUNT_ID is not set; crawl4ai-mcp always sets it",
    modes: ['tunnel', 'public'],
    required: false,
    nameConfirmed: true,
    probe: { method: 'GET', path: '/memberships' },
  },
];

export const CLOUDFLARE_TOKEN_NOTES: readonly string[] = [
  'Create a custom API token (My Profile › API Tokens, or an account-owned token) with the permissions below and Account Resources: Include › the one account you deploy to.',
  'The dashboard labels access as Read/Edit; the API permission groups use Read/Write (e.g. "Workers Scripts Write").',
  'Unconfirmed: the API-token permission-group name for Workers VPC services. Cloudflare documents the roles Connectivity Directory Read / Bind / Admin (Admin creates and deletes VPC services) and wrangler has the OAuth scopes connectivity:read|bind|admin, but the token permission-group names were not found in a primary source; "Connectivity Directory › Admin" is the expected name.',
  'The tunnel permission is confirmed by Cloudflare\'s docs as Account › Cloudflare Tunnel › Edit; the API reference also accepts "Cloudflare One Connectors Write" or "Cloudflare One Connector: cloudflared Write". `wrangler login` (OAuth) does not include tunnel permissions, so tunnel mode needs an API token.',
  'Durable Objects need no permission of their own: they are part of the Worker upload (Workers Scripts).',
  'doctor checks each permission with its read-only probe; a read proves the group is granted but cannot prove Edit access, so a missing Edit shows up as a clear error on the first create.',
];

/** "Account › Workers Scripts › Edit" */
export function permissionLabel(p: Pick<CloudflarePermission, 'scope' | 'name' | 'access'>): string {
  return `${p.scope} › ${p.name} › ${p.access}`;
}

/** The permissions a network mode needs (the optional ones only when asked for). */
export function cloudflarePermissionsFor(mode: NetworkMode, opts: { includeOptional?: boolean } = {}): CloudflarePermission[] {
  return CLOUDFLARE_TOKEN_PERMISSIONS.filter((p) => p.modes.includes(mode) && (p.required || opts.includeOptional === true));
}

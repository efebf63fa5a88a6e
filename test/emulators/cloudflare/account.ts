// Who am I: token verify, user, accounts, memberships; and the account's workers.dev subdomain.
import { createHash } from 'node:crypto';
import { CfApiError, ErrorCodes, paginate } from './envelope.js';
import { jsonBody, type ApiRequest, type Router } from './router.js';
import type { EmulatedToken, TokenRegistry } from './token-permissions.js';

export interface AccountInfo {
  accountId: string;
  accountName: string;
  email: string;
  /** the API tokens and the permission groups each holds */
  tokens: TokenRegistry;
  subdomain: string;
}

function permissionGroupId(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 32);
}

export function registerAccountRoutes(router: Router, info: AccountInfo): void {
  const account = () => ({
    id: info.accountId,
    name: info.accountName,
    type: 'standard',
    settings: { enforce_twofactor: false, abuse_contact_email: null },
    created_on: '2026-01-01T00:00:00.000000Z',
  });
  const policies = (token: EmulatedToken) => [
    {
      id: permissionGroupId(`policy:${token.id}`),
      effect: 'allow',
      resources: { [`com.cloudflare.api.account.${info.accountId}`]: '*' },
      permission_groups: token.groups.map((name) => ({ id: permissionGroupId(name), name })),
    },
  ];
  const tokenDetails = (token: EmulatedToken) => ({
    id: token.id,
    name: 'crawl4ai-mcp emulator token',
    status: 'active',
    issued_on: '2026-01-01T00:00:00Z',
    modified_on: '2026-01-01T00:00:00Z',
    policies: policies(token),
  });
  const caller = (req: ApiRequest): EmulatedToken => {
    const token = info.tokens.of(req);
    if (!token) throw new CfApiError(403, ErrorCodes.authentication, 'Authentication error');
    return token;
  };
  // verify: the real API answers {id, status}; `policies` is an emulator extra (the real source is GET /user/tokens/:id)
  const verify = (req: ApiRequest) => {
    const token = caller(req);
    return { result: { id: token.id, status: 'active', policies: policies(token) } };
  };
  const requireToken = (id: string) => {
    const token = info.tokens.byId(id);
    if (!token) throw new CfApiError(404, 1003, 'Invalid token id');
    return { result: tokenDetails(token) };
  };

  router.on('GET', '/user/tokens/verify', verify);
  router.on('GET', '/accounts/:account/tokens/verify', verify);
  router.on('GET', '/user/tokens/:id', (req) => requireToken(req.params.id!));
  router.on('GET', '/accounts/:account/tokens/:id', (req) => requireToken(req.params.id!));
  router.on('GET', '/user', () => ({
    result: { id: permissionGroupId(info.email), email: info.email, first_name: 'Test', last_name: 'User', suspended: false, two_factor_authentication_enabled: false },
  }));
  router.on('GET', '/accounts', (req) => {
    const { result, resultInfo } = paginate([account()], req.query);
    return { result, resultInfo };
  });
  router.on('GET', '/accounts/:account', () => ({ result: account() }));
  router.on('GET', '/memberships', (req) => {
    const { result, resultInfo } = paginate(
      [
        {
          id: permissionGroupId(`membership:${info.accountId}`),
          account: { id: info.accountId, name: info.accountName },
          status: 'accepted',
          roles: ['Super Administrator - All Privileges'],
          permissions: {},
        },
      ],
      req.query,
    );
    return { result, resultInfo };
  });

  router.on('GET', '/accounts/:account/workers/subdomain', () => {
    // a new account has none until it is registered (dashboard onboarding, or the PUT below)
    if (!info.subdomain) throw new CfApiError(404, ErrorCodes.scriptNotFound, 'workers.api.error.subdomain_not_found');
    return { result: { subdomain: info.subdomain } };
  });
  router.on('PUT', '/accounts/:account/workers/subdomain', (req) => {
    const subdomain = String(jsonBody<{ subdomain?: string }>(req).subdomain ?? '');
    if (!/^[a-z0-9-]{1,63}$/.test(subdomain)) throw new CfApiError(400, ErrorCodes.badRequest, 'Invalid subdomain');
    info.subdomain = subdomain;
    return { result: { subdomain } };
  });
  router.on('GET', '/accounts/:account/workers/account-settings', () => ({ result: { default_usage_model: 'standard', green_compute: false } }));
}

/**
 * An MCP client that knows only the deployment's URL, as claude.ai's connector is: the official v2
 * client's OAuth support (`authProvider`) with dynamic client registration, registering as Claude
 * does (client_name "Claude", redirect https://claude.ai/api/mcp/auth_callback), credentials kept
 * in memory. The browser step is the caller's: `authorizationUrl` is where the client sent the user.
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/client';

export const CLAUDE_REDIRECT = 'https://claude.ai/api/mcp/auth_callback';

type Provider = OAuthClientProvider;
type Tokens = Awaited<ReturnType<Provider['tokens']>>;
type ClientInfo = Awaited<ReturnType<Provider['clientInformation']>>;

export class ClaudeLikeOAuthClient implements OAuthClientProvider {
  client: ClientInfo;
  saved: Tokens;
  verifier = '';
  authorizationUrl: URL | undefined;
  /** every client_id this client registered, in order (re-registration shows as a second one) */
  registrations: string[] = [];
  invalidated: string[] = [];
  /** set to use a client ID metadata document (its https URL is the client_id) instead of DCR */
  clientMetadataUrl?: string;

  constructor(readonly clientName = 'Claude', readonly redirect = CLAUDE_REDIRECT) {}

  get redirectUrl(): string {
    return this.redirect;
  }
  get clientMetadata() {
    return { client_name: this.clientName, redirect_uris: [this.redirect], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation(): ClientInfo {
    return this.client;
  }
  saveClientInformation(info: NonNullable<ClientInfo>): void {
    this.client = info;
    this.registrations.push(info.client_id);
  }
  tokens(): Tokens {
    return this.saved;
  }
  saveTokens(t: NonNullable<Tokens>): void {
    this.saved = t;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string): void {
    this.verifier = v;
  }
  codeVerifier(): string {
    return this.verifier;
  }
  discovery: unknown;
  saveDiscoveryState(state: unknown): void {
    this.discovery = state;
  }
  discoveryState(): never {
    return this.discovery as never;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    this.invalidated.push(scope);
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }
}

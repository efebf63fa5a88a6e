/**
 * Wake on request on Azure, the facts the installer and the Worker share: the Worker is its own
 * small OIDC issuer, and Entra ID trusts tokens it signs for one user-assigned managed identity
 * through a federated identity credential (issuer + subject + audience). No secret is shared with
 * Azure: the Worker holds the private key, Entra fetches the public one from the issuer.
 */

/** Where the Worker serves its issuer (its OIDC discovery document and JWKS, public, no API key). */
export const WAKE_ISSUER_PATH = '/wake-issuer';
/** The JWKS path under the issuer (named in the discovery document's jwks_uri). */
export const WAKE_JWKS_PATH = '/jwks';
/** The audience Entra ID recommends for token exchange (workload identity federation). */
export const WAKE_AUDIENCE = 'api://AzureADTokenExchange';
/** The subject of the Worker's tokens, as the federated identity credential names it. */
export const wakeSubject = (deployment: string): string => `crawl4ai-mcp:wake:${deployment}`;

/** Worker vars (known before the VM exists) and the bundle pushed after the deploy (wrangler secret bulk, stdin). */
export const AZURE_WAKE_VARS = ['WAKE_AZURE_SUBSCRIPTION', 'WAKE_AZURE_RESOURCE_GROUP', 'WAKE_AZURE_VM', 'WAKE_AZURE_SUBJECT'] as const;
/**
 * Known only once the identity exists and the Worker's URL is known, so they travel with the
 * signing key in the post-deploy secret push; only WAKE_AZURE_SIGNING_KEY is secret (the others
 * are public: the tenant, the identity's client id, the issuer URL and its public key).
 */
export const AZURE_WAKE_BUNDLE = ['WAKE_AZURE_TENANT', 'WAKE_AZURE_CLIENT_ID', 'WAKE_AZURE_ISSUER', 'WAKE_AZURE_JWKS', 'WAKE_AZURE_SIGNING_KEY'] as const;

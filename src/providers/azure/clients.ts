// Types only: the SDK itself is imported through cloudSdk (the package's own node_modules, or the
// copy installed in the cache the first time Azure is used).
import type { ComputeManagementClient } from '@azure/arm-compute';
import type { NetworkManagementClient } from '@azure/arm-network';
import type { ResourceManagementClient } from '@azure/arm-resources';
import type { Client, createRestError } from '@azure-rest/core-client';
import type { TokenCredential } from '@azure/identity';
import { cloudSdk, type CloudSdk } from '../../ground/cloud-sdk.js';
import { credentialsError } from '../../ground/errors.js';
import { registerSecret } from '../../ground/redact.js';
import type { ProviderContext } from '../provider.js';

/** Public Azure's Resource Manager; CRAWL4AI_MCP_AZURE_ENDPOINT points elsewhere (sovereign clouds, tests). */
const ARM_ENDPOINT = 'https://management.azure.com';
/** The token audience stays Resource Manager's, whatever the endpoint. */
const ARM_SCOPE = 'https://management.azure.com/.default';

export interface AzureTiming {
  /** LRO poll interval (the SDK's updateIntervalInMs; a Retry-After from Azure overrides it) */
  pollMs: number;
  /** give up waiting for a VM or a resource group after this long */
  waitTimeoutMs: number;
}

export interface AzureClients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  resources: ResourceManagementClient;
  /** ARM over the SDK's own REST client, for Microsoft.Authorization/permissions (no typed client among the four packages) */
  arm: Client;
  /** the REST client's error for a non-2xx answer */
  restError: typeof createRestError;
  subscriptionId: string;
  location: string;
  /** who the credentials are, for messages: "service principal <client id>" or "Azure CLI login" */
  identity: string;
  timing: AzureTiming;
}

export function azureTiming(ctx: Pick<ProviderContext, 'pollMs'>): AzureTiming {
  const pollMs = ctx.pollMs ?? 5_000;
  return { pollMs, waitTimeoutMs: ctx.pollMs === undefined ? 20 * 60_000 : Math.max(30_000, pollMs * 600) };
}

interface Resolved {
  credential: TokenCredential;
  subscriptionId: string;
  identity: string;
}

/**
 * A service principal from the secret store (tenant, client id, secret, subscription), or, with
 * `--credentials chain`, the Azure CLI's login (`az login`) and AZURE_SUBSCRIPTION_ID.
 * An authority host other than Microsoft's needs instance discovery off (it asks Microsoft's
 * login host which authorities are valid).
 */
async function resolveCredential(ctx: ProviderContext, sdk: CloudSdk): Promise<Resolved> {
  const { AzureCliCredential, ClientSecretCredential } = await sdk.import<typeof import('@azure/identity')>('@azure/identity');
  const authorityHost = ctx.env.CRAWL4AI_MCP_AZURE_AUTHORITY_HOST || undefined;
  if (ctx.credentials.kind === 'chain') {
    const subscriptionId = ctx.env.AZURE_SUBSCRIPTION_ID;
    if (!subscriptionId) {
      throw credentialsError('no Azure subscription given for the Azure CLI login', 'set AZURE_SUBSCRIPTION_ID (az account show --query id -o tsv)');
    }
    return { credential: new AzureCliCredential(), subscriptionId, identity: 'the Azure CLI login' };
  }
  const { tenantId, clientId, clientSecret, subscriptionId } = ctx.credentials.values;
  if (!tenantId || !clientId || !clientSecret || !subscriptionId) {
    throw credentialsError(
      'the stored Azure credentials are incomplete (tenant id, client id, client secret and subscription id are needed)',
      'run crawl4ai-mcp init again and enter all four, or use --credentials chain with az login',
    );
  }
  registerSecret(clientSecret);
  const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, authorityHost ? { authorityHost, disableInstanceDiscovery: true } : {});
  return { credential, subscriptionId, identity: `service principal ${clientId}` };
}

export async function createAzureClients(ctx: ProviderContext): Promise<AzureClients> {
  const sdk = await cloudSdk('azure', ctx);
  const { credential, subscriptionId, identity } = await resolveCredential(ctx, sdk);
  const [{ ComputeManagementClient }, { NetworkManagementClient }, { ResourceManagementClient }, { getClient, createRestError }] = await Promise.all([
    sdk.import<typeof import('@azure/arm-compute')>('@azure/arm-compute'),
    sdk.import<typeof import('@azure/arm-network')>('@azure/arm-network'),
    sdk.import<typeof import('@azure/arm-resources')>('@azure/arm-resources'),
    sdk.import<typeof import('@azure-rest/core-client')>('@azure-rest/core-client'),
  ]);
  const endpoint = ctx.env.CRAWL4AI_MCP_AZURE_ENDPOINT || ARM_ENDPOINT;
  if (endpoint !== ARM_ENDPOINT) ctx.debug(`azure: Resource Manager endpoint ${endpoint}`);
  const timing = azureTiming(ctx);
  // SDK v25 reads `credentials.scopes` (the older `credentialScopes` is ignored). Retries are
  // explicit: 429 honours Retry-After, other transient failures back off exponentially.
  const options = {
    endpoint,
    credentials: { scopes: [ARM_SCOPE] },
    retryOptions: { maxRetries: 8, retryDelayInMs: Math.min(800, timing.pollMs), maxRetryDelayInMs: 30_000 },
    userAgentOptions: { userAgentPrefix: 'crawl4ai-mcp' },
  };
  return {
    compute: new ComputeManagementClient(credential, subscriptionId, options),
    network: new NetworkManagementClient(credential, subscriptionId, options),
    resources: new ResourceManagementClient(credential, subscriptionId, options),
    arm: getClient(endpoint, credential, options),
    restError: createRestError,
    subscriptionId,
    location: ctx.spec.region,
    identity,
    timing,
  };
}

/** Options every LRO call takes: our poll interval (Retry-After from Azure wins). */
export const lro = (az: AzureClients) => ({ updateIntervalInMs: az.timing.pollMs });

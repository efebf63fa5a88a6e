import type { AddressesClient } from '@google-cloud/compute/build/src/v1/addresses_client.js';
import type { FirewallsClient } from '@google-cloud/compute/build/src/v1/firewalls_client.js';
import type { GlobalOperationsClient } from '@google-cloud/compute/build/src/v1/global_operations_client.js';
import type { ImagesClient } from '@google-cloud/compute/build/src/v1/images_client.js';
import type { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import type { NetworksClient } from '@google-cloud/compute/build/src/v1/networks_client.js';
import type { RegionOperationsClient } from '@google-cloud/compute/build/src/v1/region_operations_client.js';
import type { RegionsClient } from '@google-cloud/compute/build/src/v1/regions_client.js';
import type { ZoneOperationsClient } from '@google-cloud/compute/build/src/v1/zone_operations_client.js';
import { cloudSdk } from '../../ground/cloud-sdk.js';
import type { ProviderContext } from '../provider.js';
import { providerTiming, type ProviderTiming } from '../timing.js';
import { gcpAuth, gcpEndpoint } from './credentials.js';
import type { GcpErrorContext } from './errors.js';

/**
 * The Compute Engine clients one command uses, each loaded from its own file of
 * @google-cloud/compute (the package index loads every client: ~1.1 s and 285 MB), in REST mode.
 * With CRAWL4AI_MCP_GCP_ENDPOINT they talk to that https endpoint instead of compute.googleapis.com
 * (the process trusts its certificate through NODE_EXTRA_CA_CERTS).
 */
export interface GcpClients {
  instances: InstancesClient;
  firewalls: FirewallsClient;
  addresses: AddressesClient;
  images: ImagesClient;
  networks: NetworksClient;
  regions: RegionsClient;
  zoneOperations: ZoneOperationsClient;
  regionOperations: RegionOperationsClient;
  globalOperations: GlobalOperationsClient;
  project: string;
  region: string;
  identity: string;
  timing: ProviderTiming;
  /** an access token for the REST calls the compute package lacks (testIamPermissions) */
  accessToken(): Promise<string>;
  /** https://cloudresourcemanager.googleapis.com, or the endpoint override */
  resourceManagerUrl: string;
  /** https://iam.googleapis.com (service accounts and keys: the wake credential), or the endpoint override */
  iamUrl: string;
  close(): Promise<void>;
}

export async function createGcpClients(ctx: ProviderContext): Promise<GcpClients> {
  const endpoint = gcpEndpoint(ctx.env);
  const auth = await gcpAuth(ctx);
  // from the package's own node_modules, or the copy installed on first use (ground/cloud-sdk.ts)
  const sdk = await cloudSdk('gcp', ctx);
  const v1 = <T>(file: string) => sdk.import<T>(`@google-cloud/compute/build/src/v1/${file}`);
  const [i, f, a, im, n, r, zo, ro, go] = await Promise.all([
    v1<{ InstancesClient: typeof InstancesClient }>('instances_client.js'),
    v1<{ FirewallsClient: typeof FirewallsClient }>('firewalls_client.js'),
    v1<{ AddressesClient: typeof AddressesClient }>('addresses_client.js'),
    v1<{ ImagesClient: typeof ImagesClient }>('images_client.js'),
    v1<{ NetworksClient: typeof NetworksClient }>('networks_client.js'),
    v1<{ RegionsClient: typeof RegionsClient }>('regions_client.js'),
    v1<{ ZoneOperationsClient: typeof ZoneOperationsClient }>('zone_operations_client.js'),
    v1<{ RegionOperationsClient: typeof RegionOperationsClient }>('region_operations_client.js'),
    v1<{ GlobalOperationsClient: typeof GlobalOperationsClient }>('global_operations_client.js'),
  ]);
  const opts = {
    fallback: true, // REST, as Compute speaks it; no gRPC
    authClient: auth.authClient,
    ...(endpoint ? { apiEndpoint: endpoint.hostname, port: Number(endpoint.port || 443) } : {}),
  };
  if (endpoint) ctx.debug(`gcp: Compute endpoint ${endpoint.origin}`);
  const clients = {
    instances: new i.InstancesClient(opts),
    firewalls: new f.FirewallsClient(opts),
    addresses: new a.AddressesClient(opts),
    images: new im.ImagesClient(opts),
    networks: new n.NetworksClient(opts),
    regions: new r.RegionsClient(opts),
    zoneOperations: new zo.ZoneOperationsClient(opts),
    regionOperations: new ro.RegionOperationsClient(opts),
    globalOperations: new go.GlobalOperationsClient(opts),
  };
  return {
    ...clients,
    project: auth.project,
    region: ctx.spec.region,
    identity: auth.identity,
    timing: providerTiming(ctx),
    async accessToken() {
      const t = await auth.authClient.getAccessToken();
      return t.token ?? '';
    },
    resourceManagerUrl: endpoint ? endpoint.origin : 'https://cloudresourcemanager.googleapis.com',
    iamUrl: endpoint ? endpoint.origin : 'https://iam.googleapis.com',
    async close() {
      await Promise.allSettled(Object.values(clients).map((c) => c.close()));
    },
  };
}

/** The error context of one call (project, region, timing for retries). */
export function callContext(gcp: GcpClients, action: string, extra: Partial<GcpErrorContext> = {}): GcpErrorContext & { timing: ProviderTiming } {
  return { action, project: gcp.project, region: gcp.region, timing: gcp.timing, ...extra };
}

import { usageError } from '../ground/errors.js';
import type { ProviderName } from '../model/deployment.js';
import type { Provider } from '../providers/provider.js';

export const PROVIDER_NAMES: readonly ProviderName[] = ['aws', 'gcp', 'azure', 'cloudflare'];
/** Providers implemented (all four). */
export const AVAILABLE_PROVIDERS: readonly ProviderName[] = ['aws', 'gcp', 'azure', 'cloudflare'];

/** Loads one provider's module (and so its SDK) on demand: using AWS never loads GCP or Azure. */
export async function loadProvider(name: string): Promise<Provider> {
  switch (name) {
    case 'aws':
      return (await import('../providers/aws/index.js')).createAwsProvider();
    case 'gcp':
      return (await import('../providers/gcp/index.js')).createGcpProvider();
    case 'azure':
      return (await import('../providers/azure/index.js')).createAzureProvider();
    case 'cloudflare':
      return (await import('../providers/cloudflare-containers/index.js')).createCloudflareContainersProvider();
    default:
      throw usageError(`unknown provider "${name}"`, `use --provider ${AVAILABLE_PROVIDERS.join('|')}`);
  }
}

import { credentialsError, usageError } from '../ground/errors.js';
import { profileSecret } from '../secrets/keys.js';
import { checkCredentialShape } from './credential-shapes.js';
import type { SecretStore } from '../secrets/store.js';
import type { ProviderCredentials, ProviderName } from '../model/deployment.js';
import type { CloudflareAccount } from '../cloudflare/wrangler.js';
import type { Prompter } from './prompter.js';

/**
 * Where credentials come from, in order: what the secret store already holds for the profile,
 * then environment variables (stored for next time), then a masked prompt. `chain` hands the
 * cloud SDK its own credential chain (profiles, SSO, instance roles) instead.
 */
export type CredentialSource = 'keychain' | 'chain';

interface Field {
  name: string;
  env: string;
  prompt: string;
  secret: boolean;
}

const CLOUD_FIELDS: Record<ProviderName, Field[]> = {
  aws: [
    { name: 'accessKeyId', env: 'AWS_ACCESS_KEY_ID', prompt: 'AWS access key ID', secret: false },
    { name: 'secretAccessKey', env: 'AWS_SECRET_ACCESS_KEY', prompt: 'AWS secret access key', secret: true },
  ],
  gcp: [],
  // a service principal (az ad sp create-for-rbac); 'chain' means the Azure CLI login instead
  azure: [
    { name: 'tenantId', env: 'AZURE_TENANT_ID', prompt: 'Azure tenant (directory) ID', secret: false },
    { name: 'clientId', env: 'AZURE_CLIENT_ID', prompt: 'Azure service principal client (application) ID', secret: false },
    { name: 'clientSecret', env: 'AZURE_CLIENT_SECRET', prompt: 'Azure service principal client secret', secret: true },
    { name: 'subscriptionId', env: 'AZURE_SUBSCRIPTION_ID', prompt: 'Azure subscription ID', secret: false },
  ],
};

const CLOUDFLARE_FIELDS: Field[] = [
  { name: 'accountId', env: 'CLOUDFLARE_ACCOUNT_ID', prompt: 'Cloudflare account ID', secret: false },
  { name: 'apiToken', env: 'CLOUDFLARE_API_TOKEN', prompt: 'Cloudflare API token (see templates/policies/cloudflare-token.json)', secret: true },
];

async function resolveFields(
  cloud: ProviderName | 'cloudflare',
  profile: string,
  fields: Field[],
  store: SecretStore,
  env: NodeJS.ProcessEnv,
  prompter: Prompter | null,
): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const f of fields) {
    const account = profileSecret(cloud, profile, f.name);
    let v = env[f.env] || (await store.get(account));
    if (!v) {
      if (!prompter) {
        throw usageError(
          `the ${f.prompt} is not in the secret store and there is no terminal to ask for it`,
          `set ${f.env}${cloud === 'aws' ? ', or use --credentials chain for your existing AWS configuration' : cloud === 'azure' ? ', or use --credentials chain for your Azure CLI login (az login)' : ''}; it is kept in the secret store for later commands`,
        );
      }
      v = f.secret ? await prompter.secret(f.prompt) : await prompter.text(f.prompt);
    }
    if (!v) throw credentialsError(`no ${f.prompt} given`, `set ${f.env}`);
    checkCredentialShape(f.env, v);
    values[f.name] = v;
  }
  // Stored only after all fields are known, so a half-entered profile is never saved.
  for (const f of fields) await store.set(profileSecret(cloud, profile, f.name), values[f.name]!);
  return values;
}

export async function resolveCloudCredentials(
  provider: ProviderName,
  source: CredentialSource,
  profile: string,
  store: SecretStore,
  env: NodeJS.ProcessEnv,
  prompter: Prompter | null,
): Promise<ProviderCredentials> {
  if (source === 'chain') return { kind: 'chain' };
  return { kind: 'static', values: await resolveFields(provider, profile, CLOUD_FIELDS[provider], store, env, prompter) };
}

export async function resolveCloudflareAccount(
  profile: string,
  store: SecretStore,
  env: NodeJS.ProcessEnv,
  prompter: Prompter | null,
): Promise<CloudflareAccount> {
  const v = await resolveFields('cloudflare', profile, CLOUDFLARE_FIELDS, store, env, prompter);
  return { accountId: v.accountId!, apiToken: v.apiToken! };
}

/** Stored cloud credentials of a profile, without prompting (for status/stop/destroy). */
export async function storedCloudflareAccount(profile: string, store: SecretStore, env: NodeJS.ProcessEnv): Promise<CloudflareAccount | null> {
  const accountId = env.CLOUDFLARE_ACCOUNT_ID || (await store.get(profileSecret('cloudflare', profile, 'accountId')));
  const apiToken = env.CLOUDFLARE_API_TOKEN || (await store.get(profileSecret('cloudflare', profile, 'apiToken')));
  return accountId && apiToken ? { accountId, apiToken } : null;
}

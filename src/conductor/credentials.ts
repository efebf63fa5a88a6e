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
 * cloud SDK its own credential chain instead (AWS: profiles, SSO, instance roles; GCP: Application
 * Default Credentials from gcloud, GOOGLE_APPLICATION_CREDENTIALS or the metadata server).
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
  // the key file's JSON itself (not its path), so the secret store holds the key and nothing else does
  gcp: [{ name: 'serviceAccountKey', env: 'CRAWL4AI_MCP_GCP_KEY', prompt: 'GCP service-account key (the key file\'s JSON on one line: jq -c . key.json)', secret: true }],
  azure: [],
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
          `set ${f.env}${cloud === 'aws' ? ', or use --credentials chain for your existing AWS configuration' : cloud === 'gcp' ? ', or use --credentials chain for Application Default Credentials' : ''}; it is kept in the secret store for later commands`,
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

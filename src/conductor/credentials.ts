import { credentialsError, usageError } from '../ground/errors.js';
import { registerSecret } from '../ground/redact.js';
import { profileSecret, type CloudName } from '../secrets/keys.js';
import { checkCredentialShape } from './credential-shapes.js';
import type { SecretStore } from '../secrets/store.js';
import type { ProviderCredentials, ProviderName } from '../model/deployment.js';
import type { CloudflareAccount } from '../cloudflare/wrangler.js';
import type { Prompter } from './prompter.js';

/**
 * Where credentials come from. `keychain`: an access key kept in the secret store under a
 * profile; `chain`: the cloud SDK's own credential chain (AWS: profiles, SSO, instance roles; GCP:
 * Application Default Credentials from gcloud, GOOGLE_APPLICATION_CREDENTIALS or the metadata server).
 *
 * Only `init` writes a profile (`persist`), and says so in one line: a day-2 command (status,
 * stop, destroy, plan) reads the stored least-privilege key and never replaces it with whatever
 * happens to be exported in the shell (often an admin key). The environment is used by a day-2
 * command only when nothing is stored, for that run. Temporary credentials (with
 * AWS_SESSION_TOKEN) are never stored: they expire, and a stored copy would fail later.
 */
export type CredentialSource = 'keychain' | 'chain';

export interface ResolveOptions {
  /** store what came from the environment or a prompt (init only) */
  persist: boolean;
  /** one line for the user (what was stored, what was ignored) */
  note?: (line: string) => void;
}

interface Field {
  name: string;
  env: string;
  prompt: string;
  secret: boolean;
}

interface FieldSet {
  label: string;
  fields: Field[];
  /** a variable that marks the environment's values as temporary: used, never stored */
  temporary?: Field;
}

const CLOUDFLARE_FIELDS: FieldSet = {
  label: 'Cloudflare account ID and API token',
  fields: [
    { name: 'accountId', env: 'CLOUDFLARE_ACCOUNT_ID', prompt: 'Cloudflare account ID', secret: false },
    { name: 'apiToken', env: 'CLOUDFLARE_API_TOKEN', prompt: 'Cloudflare API token (see templates/policies/cloudflare-token.json)', secret: true },
  ],
};

const CLOUD_FIELDS: Record<ProviderName, FieldSet> = {
  // Crawl4AI as a Cloudflare Container: the cloud is the Cloudflare account itself (one token, one profile)
  cloudflare: CLOUDFLARE_FIELDS,
  aws: {
    label: 'AWS access key',
    fields: [
      { name: 'accessKeyId', env: 'AWS_ACCESS_KEY_ID', prompt: 'AWS access key ID', secret: false },
      { name: 'secretAccessKey', env: 'AWS_SECRET_ACCESS_KEY', prompt: 'AWS secret access key', secret: true },
    ],
    temporary: { name: 'sessionToken', env: 'AWS_SESSION_TOKEN', prompt: 'AWS session token', secret: true },
  },
  gcp: {
    label: 'GCP service-account key',
    // the key file's JSON itself (not its path), so the secret store holds the key and nothing else does
    fields: [{ name: 'serviceAccountKey', env: 'CRAWL4AI_MCP_GCP_KEY', prompt: 'GCP service-account key (the key file\'s JSON on one line: jq -c . key.json)', secret: true }],
  },
  // a service principal (az ad sp create-for-rbac); 'chain' means the Azure CLI login instead
  azure: {
    label: 'Azure service principal',
    fields: [
      { name: 'tenantId', env: 'AZURE_TENANT_ID', prompt: 'Azure tenant (directory) ID', secret: false },
      { name: 'clientId', env: 'AZURE_CLIENT_ID', prompt: 'Azure service principal client (application) ID', secret: false },
      { name: 'clientSecret', env: 'AZURE_CLIENT_SECRET', prompt: 'Azure service principal client secret', secret: true },
      { name: 'subscriptionId', env: 'AZURE_SUBSCRIPTION_ID', prompt: 'Azure subscription ID', secret: false },
    ],
  },
};


type Values = Record<string, string>;

function fromEnv(set: FieldSet, env: NodeJS.ProcessEnv): Values | null {
  const values: Values = {};
  for (const f of set.fields) {
    const v = env[f.env];
    if (!v) return null;
    values[f.name] = v;
  }
  return values;
}

async function fromStore(cloud: CloudName, profile: string, set: FieldSet, store: SecretStore): Promise<Values | null> {
  const values: Values = {};
  for (const f of set.fields) {
    const v = await store.get(profileSecret(cloud, profile, f.name));
    if (!v) return null;
    values[f.name] = v;
  }
  return values;
}

const same = (a: Values, b: Values) => Object.keys(a).every((k) => a[k] === b[k]);

/** Values about to be used or stored, checked for shape (one line naming the variable when wrong). */
function shaped(set: FieldSet, values: Values): Values {
  for (const f of [...set.fields, ...(set.temporary ? [set.temporary] : [])]) {
    const v = values[f.name];
    if (v !== undefined) checkCredentialShape(f.env, v);
  }
  return values;
}

async function resolveFields(
  cloud: ProviderName | 'cloudflare',
  profile: string,
  set: FieldSet,
  store: SecretStore,
  env: NodeJS.ProcessEnv,
  prompter: Prompter | null,
  opts: ResolveOptions,
): Promise<Values> {
  const note = opts.note ?? (() => {});
  const stored = await fromStore(cloud, profile, set, store);
  const fromShell = fromEnv(set, env);
  // Checked only when the environment's values will be used: a stored profile wins on day 2.
  const envValues = fromShell && (opts.persist || !stored) ? shaped(set, fromShell) : fromShell;
  const token = set.temporary ? env[set.temporary.env] : undefined;
  const where = `profile "${profile}"`;

  if (envValues && token) {
    registerSecret(token);
    // Temporary credentials expire: used for this run, never stored (nor do they replace a stored key).
    if (opts.persist || !stored) {
      if (opts.persist) note(`using the temporary ${set.label} from the environment (${set.temporary!.env} is set) for this run only; nothing is stored`);
      return shaped(set, { ...envValues, [set.temporary!.name]: token });
    }
  }
  if (opts.persist) {
    if (envValues && !token) {
      if (!stored || !same(envValues, stored)) {
        await save(cloud, profile, set, store, envValues);
        note(`stored the ${set.label} from ${set.fields.map((f) => f.env).join('/')} in the secret store as ${where}`);
      }
      return envValues;
    }
    if (stored) return stored;
    const asked = await ask(cloud, set, prompter);
    await save(cloud, profile, set, store, asked);
    note(`stored the ${set.label} in the secret store as ${where}`);
    return asked;
  }
  if (stored) {
    if (envValues && !same(envValues, stored)) {
      note(`using the ${set.label} stored as ${where}; the one in ${set.fields[0]!.env} is ignored (\`crawl4ai-mcp init\` replaces the stored one)`);
    }
    return stored;
  }
  if (envValues) return envValues; // nothing stored: the environment's, for this run only
  return ask(cloud, set, prompter);
}

async function ask(cloud: string, set: FieldSet, prompter: Prompter | null): Promise<Values> {
  const values: Values = {};
  for (const f of set.fields) {
    if (!prompter) {
      throw usageError(
        `the ${f.prompt} is not in the secret store and there is no terminal to ask for it`,
        `set ${f.env}${cloud === 'aws' ? ', or use --credentials chain for your existing AWS configuration' : cloud === 'gcp' ? ', or use --credentials chain for Application Default Credentials' : cloud === 'azure' ? ', or use --credentials chain for your Azure CLI login (az login)' : ''}; \`init\` keeps it in the secret store for later commands`,
      );
    }
    const v = f.secret ? await prompter.secret(f.prompt) : await prompter.text(f.prompt);
    if (!v) throw credentialsError(`no ${f.prompt} given`, `set ${f.env}`);
    checkCredentialShape(f.env, v);
    values[f.name] = v;
  }
  return values;
}

/** Stored only once every field is known, so a half-entered profile is never saved. */
async function save(cloud: CloudName, profile: string, set: FieldSet, store: SecretStore, values: Values): Promise<void> {
  for (const f of set.fields) await store.set(profileSecret(cloud, profile, f.name), values[f.name]!);
}

export async function resolveCloudCredentials(
  provider: ProviderName,
  source: CredentialSource,
  profile: string,
  store: SecretStore,
  env: NodeJS.ProcessEnv,
  prompter: Prompter | null,
  opts: ResolveOptions = { persist: false },
): Promise<ProviderCredentials> {
  if (source === 'chain') return { kind: 'chain' };
  return { kind: 'static', values: await resolveFields(provider, profile, CLOUD_FIELDS[provider], store, env, prompter, opts) };
}

/** The Cloudflare values set in the environment, checked for shape before anything else is stored. */
export function checkCloudflareEnvShapes(env: NodeJS.ProcessEnv): void {
  for (const f of CLOUDFLARE_FIELDS.fields) if (env[f.env]) checkCredentialShape(f.env, env[f.env]!);
}

export async function resolveCloudflareAccount(
  profile: string,
  store: SecretStore,
  env: NodeJS.ProcessEnv,
  prompter: Prompter | null,
  opts: ResolveOptions = { persist: false },
): Promise<CloudflareAccount> {
  const v = await resolveFields('cloudflare', profile, CLOUDFLARE_FIELDS, store, env, prompter, opts);
  return { accountId: v.accountId!, apiToken: v.apiToken! };
}

/** The Cloudflare account of a profile for status/stop/destroy: stored first, never prompts or stores. */
export async function storedCloudflareAccount(
  profile: string,
  store: SecretStore,
  env: NodeJS.ProcessEnv,
  note?: (line: string) => void,
): Promise<CloudflareAccount | null> {
  const stored = await fromStore('cloudflare', profile, CLOUDFLARE_FIELDS, store);
  const envValues = fromEnv(CLOUDFLARE_FIELDS, env);
  if (stored && envValues && !same(stored, envValues)) {
    note?.(`using the ${CLOUDFLARE_FIELDS.label} stored as profile "${profile}"; the ones in CLOUDFLARE_ACCOUNT_ID/CLOUDFLARE_API_TOKEN are ignored`);
  }
  const v = stored ?? envValues;
  return v ? { accountId: v.accountId!, apiToken: v.apiToken! } : null;
}

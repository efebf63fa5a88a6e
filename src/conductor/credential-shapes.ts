import { credentialsError } from '../ground/errors.js';

/**
 * What each credential looks like, checked as it is read from the environment or typed, before it
 * is stored or sent anywhere: a pasted value with a space, a quote or the wrong field in it fails
 * here with one line naming the variable, not later as an opaque signature error from the cloud.
 * Deliberately loose (the clouds change formats); the point is catching the obvious mistakes.
 */
interface Shape {
  re: RegExp;
  what: string;
}

const SHAPES: Readonly<Record<string, Shape>> = {
  // AWS documents 16-128 characters of [A-Z0-9] (AKIA… for users, ASIA… for temporary keys).
  AWS_ACCESS_KEY_ID: { re: /^[A-Z0-9]{16,128}$/, what: 'an AWS access key id (16-128 characters A-Z and 0-9, e.g. AKIA…)' },
  AWS_SECRET_ACCESS_KEY: { re: /^[A-Za-z0-9/+=]{16,128}$/, what: 'an AWS secret access key (40 characters of A-Z, a-z, 0-9, / and +)' },
  AWS_SESSION_TOKEN: { re: /^[A-Za-z0-9/+=]{16,4096}$/, what: 'an AWS session token (base64 characters)' },
  // a service-account key file's JSON (one line or several), never a path to it
  CRAWL4AI_MCP_GCP_KEY: { re: /^\s*\{[\s\S]*"type"\s*:\s*"service_account"[\s\S]*\}\s*$/, what: 'a GCP service-account key (the JSON content of the key file, not its path)' },
  AZURE_TENANT_ID: { re: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'an Azure tenant id (a GUID, az account show --query tenantId)' },
  AZURE_CLIENT_ID: { re: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'an Azure client (application) id (a GUID, the appId of the service principal)' },
  AZURE_SUBSCRIPTION_ID: { re: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'an Azure subscription id (a GUID, az account show --query id)' },
  // Entra client secrets are ~40 characters of letters, digits and ~ . _ -
  AZURE_CLIENT_SECRET: { re: /^[A-Za-z0-9~._-]{16,256}$/, what: 'an Azure client secret VALUE (not the secret id): letters, digits, ~ . _ -' },
  CLOUDFLARE_ACCOUNT_ID: { re: /^[0-9a-f]{32}$/, what: 'a Cloudflare account id (32 lower-case hex characters, shown on the dashboard\'s account home)' },
  CLOUDFLARE_API_TOKEN: { re: /^[A-Za-z0-9_-]{20,200}$/, what: 'a Cloudflare API token (letters, digits, "-" and "_", no spaces)' },
};

/** Throws a credentials error (exit 3) when `value` of variable `envName` is not the expected shape. */
export function checkCredentialShape(envName: string, value: string): void {
  const shape = SHAPES[envName];
  if (!shape || shape.re.test(value)) return;
  const why = /\s/.test(value) ? 'it contains white space' : value.length < 16 ? 'it is too short' : 'it has characters that do not belong';
  throw credentialsError(`${envName} does not look like ${shape.what}: ${why}`, `check the value you set or pasted for ${envName} (the value itself is never printed)`);
}

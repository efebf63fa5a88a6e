import type { Session } from '../conductor/session.js';
import type { DeploymentState } from '../state/schema.js';
import type { ProviderCredentials, ProviderName } from '../model/deployment.js';
import type { CloudflareAccount } from '../cloudflare/wrangler.js';

/**
 * The credentials a deployment was created with, from the secret store: never prompts, never
 * stores (a day-2 command must not replace the stored least-privilege key with the shell's).
 */
export async function credentialsOf(state: DeploymentState, s: Session): Promise<ProviderCredentials> {
  // imported when used: `--help` loads no credential code
  const { resolveCloudCredentials } = await import('../conductor/credentials.js');
  return resolveCloudCredentials(state.provider as ProviderName, state.credentials ?? 'keychain', state.profile ?? 'default', s.secrets, s.env, null, {
    persist: false,
    note: (m) => s.reporter.step(m),
  });
}

export async function cloudflareOf(state: DeploymentState, s: Session): Promise<CloudflareAccount | null> {
  const { storedCloudflareAccount } = await import('../conductor/credentials.js');
  return storedCloudflareAccount(state.profile ?? 'default', s.secrets, s.env, (m) => s.reporter.step(m));
}

/**
 * Names of secret-store entries. Every entry is namespaced per deployment or per cloud profile,
 * so `destroy` can remove exactly one deployment's secrets and two deployments never collide.
 * These are the keychain "account" strings under the service name SERVICE.
 */
export const SERVICE = 'crawl4ai-mcp';

export type DeploymentSecretName =
  | 'mcp-api-key' // the first MCP API key (c4m_...), shown by `connect`
  | 'crawl4ai-token' // CRAWL4AI_API_TOKEN of the VM's Crawl4AI, also a Worker secret
  | 'tunnel-token' // cloudflared connector token (tunnel mode)
  | (string & {});

export type CloudName = 'aws' | 'gcp' | 'azure' | 'cloudflare';

export function deploymentSecret(deployment: string, name: DeploymentSecretName): string {
  return `deployment/${deployment}/${name}`;
}

export function profileSecret(cloud: CloudName, profile: string, name: string): string {
  return `profile/${cloud}/${profile}/${name}`;
}

export function deploymentPrefix(deployment: string): string {
  return `deployment/${deployment}/`;
}

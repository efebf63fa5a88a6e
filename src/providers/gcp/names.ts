import { usageError } from '../../ground/errors.js';
import { MANAGED_BY, TAG_MANAGED_BY } from '../../model/deployment.js';

/**
 * Names and labels of a deployment's Compute Engine resources. GCP label keys allow only
 * lowercase letters, digits, "_" and "-", so the neutral tag `crawl4ai-mcp:deployment` becomes
 * the label `crawl4ai-mcp-deployment`. Firewall rules carry no labels at all in Compute Engine:
 * they are found by their exact names and the deployment's network tag.
 */
export const LABEL_DEPLOYMENT = 'crawl4ai-mcp-deployment';

export function deploymentLabels(deployment: string): Record<string, string> {
  return { [LABEL_DEPLOYMENT]: deployment, [TAG_MANAGED_BY]: MANAGED_BY };
}

/** `labels.KEY = "VALUE"` terms matching exactly this deployment's labelled resources. */
export function labelFilter(deployment: string): string {
  return `(labels.${LABEL_DEPLOYMENT} = "${deployment}") AND (labels.${TAG_MANAGED_BY} = "${MANAGED_BY}")`;
}

/** `crawl4ai-mcp-<deployment>`: the instance, its boot disk, its static address and its network tag. */
export const resourceName = (deployment: string) => `crawl4ai-mcp-${deployment}`;

/** The network tag the deployment's firewall rules target (only its VM carries it). */
export const networkTag = resourceName;

/**
 * The deployment's firewall rules, by role. A rule cannot mix IPv4 and IPv6 ranges, so HTTPS has
 * one rule per family. `denyIngress` outranks the default network's default-allow-ssh/rdp/icmp
 * (priority 65534), which would otherwise let anyone reach port 22 of the VM.
 */
export const FIREWALL_ROLES = ['denyIngress', 'httpsV4', 'httpsV6'] as const;
export type FirewallRole = (typeof FIREWALL_ROLES)[number];

export function firewallName(deployment: string, role: FirewallRole): string {
  const suffix: Record<FirewallRole, string> = { denyIngress: 'deny-ingress', httpsV4: 'https', httpsV6: 'https-v6' };
  return `${resourceName(deployment)}-${suffix[role]}`;
}

export const description = (deployment: string) => `crawl4ai-mcp deployment ${deployment} (managed-by=${MANAGED_BY})`;

/** Instances are zonal: their id in the journal and in discover() is `<zone>/<name>`. */
export const instanceId = (zone: string, name: string) => `${zone}/${name}`;
export function splitInstanceId(id: string): { zone: string; name: string } {
  const i = id.indexOf('/');
  return { zone: id.slice(0, i), name: id.slice(i + 1) };
}

/** Last path segment of a Compute self link ("…/zones/us-central1-a" → "us-central1-a"). */
export const lastSegment = (link: string | null | undefined): string => (link ?? '').split('/').pop() ?? '';

/** Compute names must end with a letter or digit; deployment names may end with "-". */
export function checkResourceName(deployment: string): void {
  if (deployment.endsWith('-')) {
    throw usageError(`deployment name "${deployment}" cannot be used on GCP: Compute Engine names cannot end with "-"`, 'pick a --name that ends with a letter or digit');
  }
}

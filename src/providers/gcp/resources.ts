import type { FirewallRole } from './names.js';

/**
 * The Compute Engine resources of one deployment, as journal keys and as the kinds discover()
 * reports (journal and label search are merged by kind).
 */
export const GCP_RESOURCE = {
  instance: 'gcp:instance',
  firewall: 'gcp:firewall',
  address: 'gcp:address',
  /** the Worker's wake credential: a key of the shared account crawl4ai-mcp-wake (id journaled; keys carry no labels) */
  wakeKey: 'gcp:wake-key',
} as const;
export type GcpResourceKind = (typeof GCP_RESOURCE)[keyof typeof GCP_RESOURCE];

/** One journal key per firewall rule (a deployment has up to three), all of kind gcp:firewall. */
export const firewallKey = (role: FirewallRole) => `gcp:firewall:${role}`;

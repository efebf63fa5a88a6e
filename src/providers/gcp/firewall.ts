import { randomUUID } from 'node:crypto';
import type { Journal } from '../../state/journal.js';
import { stillThere } from '../journal-steps.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall, isAlreadyExists, isNotFound } from './errors.js';
import { NETWORK } from './lookups.js';
import { description, firewallName, networkTag, type FirewallRole } from './names.js';
import { waitOperation } from './operations.js';
import { firewallKey, GCP_RESOURCE } from './resources.js';

/**
 * The deployment's firewall rules, targeted at its network tag. Tunnel mode: only a deny-all
 * ingress rule, because the default network's default-allow-ssh/rdp/icmp rules (priority 65534)
 * would otherwise open port 22 to the internet. Public mode adds tcp:443 from anywhere (one rule
 * per address family), at a higher priority than the deny.
 */
export const DENY_PRIORITY = 1000;
export const ALLOW_PRIORITY = 900;

export function rolesFor(inboundPorts: number[]): FirewallRole[] {
  return inboundPorts.length ? ['denyIngress', 'httpsV4', 'httpsV6'] : ['denyIngress'];
}

function ruleBody(deployment: string, role: FirewallRole, inboundPorts: number[]) {
  const common = {
    name: firewallName(deployment, role),
    description: description(deployment),
    network: `global/networks/${NETWORK}`,
    direction: 'INGRESS',
    targetTags: [networkTag(deployment)],
  };
  if (role === 'denyIngress') return { ...common, priority: DENY_PRIORITY, sourceRanges: ['0.0.0.0/0'], denied: [{ IPProtocol: 'all' }] };
  const allowed = [{ IPProtocol: 'tcp', ports: inboundPorts.map(String) }];
  return { ...common, priority: ALLOW_PRIORITY, sourceRanges: [role === 'httpsV4' ? '0.0.0.0/0' : '::/0'], allowed };
}

export async function getFirewall(gcp: GcpClients, name: string): Promise<object | undefined> {
  try {
    const [fw] = await gcpCall(callContext(gcp, 'firewalls.get'), () => gcp.firewalls.get({ project: gcp.project, firewall: name }, CALL_OPTIONS), isNotFound);
    return fw;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Creates the rules the mode needs (journaled, resumable) and deletes ones it no longer needs. */
export async function reconcileFirewalls(
  gcp: GcpClients,
  journal: Journal,
  deployment: string,
  inboundPorts: number[],
  progress: (m: string) => void,
): Promise<void> {
  const wanted = rolesFor(inboundPorts);
  for (const role of wanted) {
    const key = firewallKey(role);
    if (await stillThere(journal, key, (name) => getFirewall(gcp, name))) continue;
    const name = firewallName(deployment, role);
    progress(`creating firewall rule ${name}`);
    const rec = await journal.intend(key, GCP_RESOURCE.firewall, { meta: { role } });
    try {
      const answer = await gcpCall(
        callContext(gcp, 'firewalls.insert', { permission: 'compute.firewalls.create' }),
        () => gcp.firewalls.insert({ project: gcp.project, firewallResource: ruleBody(deployment, role, inboundPorts), requestId: rec.token! }, CALL_OPTIONS),
        isAlreadyExists,
      );
      await gcpCall(callContext(gcp, 'firewalls.insert'), () => waitOperation(gcp, answer, { global: true }, `firewall rule ${name}`));
    } catch (e) {
      // a rule of this name made by an earlier run whose journal write was lost: adopt it
      if (!isAlreadyExists(e)) throw e;
    }
    await journal.created(key, name, { role });
  }
  for (const role of ['httpsV4', 'httpsV6'] as const) {
    if (wanted.includes(role)) continue;
    const rec = journal.find(firewallKey(role));
    if (!rec || rec.phase === 'deleted') continue;
    await journal.deleting(rec.key);
    await deleteFirewall(gcp, firewallName(deployment, role));
    await journal.deleted(rec.key);
  }
}

/** Deletes a rule and waits; one already gone is fine. */
export async function deleteFirewall(gcp: GcpClients, name: string): Promise<void> {
  const requestId = randomUUID(); // one per deletion, so a retried call is deduplicated
  try {
    const answer = await gcpCall(callContext(gcp, 'firewalls.delete', { permission: 'compute.firewalls.delete' }), () =>
      gcp.firewalls.delete({ project: gcp.project, firewall: name, requestId }, CALL_OPTIONS),
    isNotFound);
    await gcpCall(callContext(gcp, 'firewalls.delete'), () => waitOperation(gcp, answer, { global: true }, `deletion of firewall rule ${name}`));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

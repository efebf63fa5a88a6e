import { randomUUID } from 'node:crypto';
import { retry } from '../../ground/wait.js';
import { callContext, type GcpClients } from './clients.js';
import { CALL_OPTIONS, gcpCall, gcpErrorInfo, isAlreadyExists, isNotFound, toCliError } from './errors.js';
import { deploymentLabels, description, labelFilter, resourceName } from './names.js';
import { waitOperation } from './operations.js';

/** The static external IPv4 address of public mode (the hostname embeds it; kept across stop/start). */

export async function getAddress(gcp: GcpClients, name: string): Promise<{ name: string; address: string; status: string } | undefined> {
  try {
    const [a] = await gcpCall(callContext(gcp, 'addresses.get'), () => gcp.addresses.get({ project: gcp.project, region: gcp.region, address: name }, CALL_OPTIONS), isNotFound);
    return a.address ? { name, address: a.address, status: String(a.status ?? '') } : undefined;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Reserves the address (requestId = the journal token; a name taken by an earlier run is adopted). */
export async function reserveAddress(gcp: GcpClients, deployment: string, requestId: string): Promise<{ name: string; address: string }> {
  const name = resourceName(deployment);
  try {
    const answer = await gcpCall(
      callContext(gcp, 'addresses.insert', { permission: 'compute.addresses.create' }),
      () =>
        gcp.addresses.insert(
          { project: gcp.project, region: gcp.region, requestId, addressResource: { name, description: description(deployment), labels: deploymentLabels(deployment), networkTier: 'PREMIUM' } },
          CALL_OPTIONS,
        ),
      isAlreadyExists,
    );
    await gcpCall(callContext(gcp, 'addresses.insert'), () => waitOperation(gcp, answer, { region: gcp.region }, `static address ${name}`));
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  const a = await getAddress(gcp, name);
  if (!a) throw new Error(`static address ${name} was reserved but Compute does not show it`);
  return a;
}

/** Releases the address; one already gone is fine. Right after its VM is deleted it may still be in use for a moment. */
export async function releaseAddress(gcp: GcpClients, name: string): Promise<void> {
  const requestId = randomUUID();
  try {
    await retry(
      async () => {
        const answer = await gcpCall(
          callContext(gcp, 'addresses.delete', { permission: 'compute.addresses.delete' }),
          () => gcp.addresses.delete({ project: gcp.project, region: gcp.region, address: name, requestId }, CALL_OPTIONS),
          (e) => isNotFound(e) || gcpErrorInfo(e).reason === 'resourceInUseByAnotherResource',
        );
        await gcpCall(callContext(gcp, 'addresses.delete'), () => waitOperation(gcp, answer, { region: gcp.region }, `release of static address ${name}`));
      },
      {
        retryIf: (e) => gcpErrorInfo(e).reason === 'resourceInUseByAnotherResource',
        attempts: 1000,
        deadlineMs: gcp.timing.dependencyTimeoutMs,
        baseMs: gcp.timing.pollMs,
        maxMs: gcp.timing.maxPollMs,
      },
    );
  } catch (e) {
    if (!isNotFound(e)) throw toCliError(e, callContext(gcp, 'addresses.delete'));
  }
}

/** The deployment's labelled addresses in the region (paged). */
export async function listAddresses(gcp: GcpClients, deployment: string): Promise<Array<{ name: string; status: string }>> {
  return gcpCall(callContext(gcp, 'addresses.list'), async () => {
    const out: Array<{ name: string; status: string }> = [];
    for await (const a of gcp.addresses.listAsync({ project: gcp.project, region: gcp.region, filter: labelFilter(deployment) }, CALL_OPTIONS)) {
      if (a.name) out.push({ name: a.name, status: String(a.status ?? '') });
    }
    return out;
  });
}

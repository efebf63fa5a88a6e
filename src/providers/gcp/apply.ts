import { capacityError } from '../../ground/errors.js';
import type { VmStatus } from '../../model/deployment.js';
import type { Journal } from '../../state/journal.js';
import type { ResourceRecord } from '../../state/schema.js';
import { refuseAfterInterruptedDestroy, stillThere } from '../journal-steps.js';
import type { BootstrapFactory, ProviderContext } from '../provider.js';
import { getAddress, releaseAddress, reserveAddress } from './address.js';
import { callContext, type GcpClients } from './clients.js';
import { isStockout, toCliError } from './errors.js';
import { reconcileFirewalls } from './firewall.js';
import { getInstance, startInstance, toVmStatus } from './instance.js';
import { insertInstance, type LaunchParams } from './launch.js';
import { findUbuntuImage, regionZones, requireDefaultNetwork } from './lookups.js';
import { instanceId, resourceName, splitInstanceId } from './names.js';
import { GCP_RESOURCE } from './resources.js';

export interface ApplyOptions {
  machineType: string;
  /** other valid sizes, suggested when the machine type has no capacity */
  otherSizes: string[];
}

/**
 * Creates the deployment's Compute Engine resources, or resumes creating them: each step is
 * intend (journal) → create call (requestId = the journal's token) → created (journal). Nothing
 * is rolled back on failure: what was made stays journaled and labelled, so a re-run continues and
 * `destroy` removes it.
 */
export async function applyDeployment(gcp: GcpClients, ctx: ProviderContext, journal: Journal, bootstrapFor: BootstrapFactory, opts: ApplyOptions): Promise<VmStatus> {
  const deployment = ctx.spec.name;
  refuseAfterInterruptedDestroy(journal, 'gcp:', deployment);
  await requireDefaultNetwork(gcp);

  // 1. public mode: the static address first, so the hostname in the VM's TLS config can embed it.
  let address: ResourceRecord | undefined;
  if (ctx.spec.network === 'public') {
    address = await stillThere(journal, GCP_RESOURCE.address, (name) => getAddress(gcp, name));
    if (!address) {
      ctx.progress(`reserving static address ${resourceName(deployment)} in ${gcp.region}`);
      const rec = await journal.intend(GCP_RESOURCE.address, GCP_RESOURCE.address, { region: gcp.region });
      const { name, address: ip } = await reserveAddress(gcp, deployment, rec.token!);
      await journal.created(GCP_RESOURCE.address, name, { publicIp: ip });
      address = journal.find(GCP_RESOURCE.address)!;
    }
  } else {
    const stale = journal.find(GCP_RESOURCE.address);
    if (stale && stale.phase !== 'deleted') {
      await journal.deleting(GCP_RESOURCE.address);
      if (stale.id) await releaseAddress(gcp, stale.id);
      await journal.deleted(GCP_RESOURCE.address);
    }
  }
  const publicIp = typeof address?.meta.publicIp === 'string' ? address.meta.publicIp : undefined;
  const bootstrap = bootstrapFor(publicIp ? { publicIp } : {});

  // 2. firewall rules (network set-up as its own step, before the VM exists)
  await reconcileFirewalls(gcp, journal, deployment, bootstrap.inboundPorts, ctx.progress);

  // 3. the instance, in the first zone of the region that has capacity
  // any status counts: a stopped instance is started below instead of making another
  let instance = await stillThere(journal, GCP_RESOURCE.instance, (id) => getInstance(gcp, splitInstanceId(id)));
  if (!instance) {
    const image = await findUbuntuImage(gcp);
    const pending = journal.find(GCP_RESOURCE.instance);
    const zones = await regionZones(gcp);
    // a resumed intent first retries its own zone with its own requestId (deduplicated by Compute)
    const resumeZone = pending?.phase === 'intent' && typeof pending.meta.zone === 'string' ? pending.meta.zone : undefined;
    const order = resumeZone ? [resumeZone, ...zones.filter((z) => z !== resumeZone)] : zones;
    const tried: string[] = [];
    for (const zone of order) {
      const launch: LaunchParams = { deployment, zone, machineType: opts.machineType, imageId: image.id, ...(publicIp ? { natIP: publicIp } : {}) };
      const rec = await journal.intend(GCP_RESOURCE.instance, GCP_RESOURCE.instance, { region: gcp.region, meta: { zone, machineType: opts.machineType, image: image.name } });
      ctx.progress(`creating ${opts.machineType} instance ${resourceName(deployment)} in ${zone} (image ${image.name})`);
      try {
        await insertInstance(gcp, launch, bootstrap.userData, rec.token!, opts.otherSizes);
      } catch (e) {
        if (!isStockout(e)) throw toCliError(e, callContext(gcp, 'instances.insert', { otherSizes: opts.otherSizes, machineType: opts.machineType, zone }));
        // nothing was made: forget the token, so the next zone (or the next run) starts clean
        await journal.deleted(GCP_RESOURCE.instance);
        tried.push(zone);
        ctx.progress(`zone ${zone} has no capacity for ${opts.machineType} right now; trying another zone`);
        continue;
      }
      await journal.created(GCP_RESOURCE.instance, instanceId(zone, resourceName(deployment)), { zone, machineType: opts.machineType });
      instance = journal.find(GCP_RESOURCE.instance)!;
      break;
    }
    if (!instance) {
      const sizes = opts.otherSizes.length ? `try --size ${opts.otherSizes.join(' or --size ')} or another --region` : 'try another --region';
      throw capacityError(`Compute Engine has no capacity for ${opts.machineType} in ${gcp.region} right now (ZONE_RESOURCE_POOL_EXHAUSTED in ${tried.join(', ')})`, sizes);
    }
  }
  const ref = splitInstanceId(instance.id!);
  ctx.progress(`waiting for instance ${ref.name} to be running`);
  const running = await startInstance(gcp, ref, opts.otherSizes); // a resumed run may find it stopped
  const status = toVmStatus(running);
  await journal.created(GCP_RESOURCE.instance, instance.id!, { zone: ref.zone, machineType: status.instanceType ?? opts.machineType, publicIp: status.publicIp ?? null });
  return status;
}

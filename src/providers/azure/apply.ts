import { CliError } from '../../ground/errors.js';
import type { Journal } from '../../state/journal.js';
import type { VmStatus } from '../../model/deployment.js';
import { stillThere } from '../journal-steps.js';
import type { BootstrapFactory, ProviderContext } from '../provider.js';
import type { AzureClients } from './clients.js';
import { lro } from './clients.js';
import { azureCall, getOrUndefined } from './errors.js';
import { checkLocation, findUbuntuImage, type ImageChoice } from './lookups.js';
import { AZURE_RESOURCE, deploymentTags, resourceNames, scopedId } from './names.js';
import { getNic, getNsg, getPublicIp, getVnet, putNic, putNsg, putPublicIp, putVnet } from './network.js';
import { createVm, describeVm, startVm, tagOsDisk } from './vm.js';
import { currentStatus } from './status.js';
import { ensureSelfDeallocate } from './self-deallocate.js';

export interface ApplyOptions {
  vmSize: string;
  /** other valid sizes, suggested when the size has no capacity */
  otherSizes: string[];
}

/**
 * Creates the deployment's Azure resources, or resumes creating them. Each step is intend
 * (journal) -> PUT -> created (journal); Azure PUTs are idempotent by name, so a step left in
 * 'intent' is simply PUT again, and a created record whose resource is gone is created anew.
 * Order: resource group, [public IP], NSG, virtual network, NIC, VM, OS disk tags, the VM's
 * self-deallocate role and its assignment, start.
 * Nothing is rolled back on failure: what exists stays journaled and tagged for the next run or
 * for destroy.
 */
export async function applyDeployment(az: AzureClients, ctx: ProviderContext, journal: Journal, bootstrapFor: BootstrapFactory, opts: ApplyOptions): Promise<VmStatus> {
  const deployment = ctx.spec.name;
  const n = resourceNames(deployment);
  const interrupted = journal.live().find((r) => r.kind.startsWith('azure:') && r.phase === 'deleting');
  if (interrupted) {
    throw new CliError(`a destroy of deployment ${deployment} was interrupted (${interrupted.kind})`, {
      hint: `run crawl4ai-mcp destroy --name ${deployment} to finish it, then init again`,
    });
  }
  // Before creating anything: the location offers what we need, and the image exists there.
  await checkLocation(az);
  const image = await imageFor(az, journal);

  // 1. resource group
  if (!(await stillThere(journal, AZURE_RESOURCE.group, async () => getOrUndefined({ action: `read resource group ${n.group}`, location: az.location }, () => az.resources.resourceGroups.get(n.group))))) {
    ctx.progress(`creating resource group ${n.group} in ${az.location}`);
    await journal.intend(AZURE_RESOURCE.group, AZURE_RESOURCE.group, { region: az.location });
    const group = await azureCall({ action: `create resource group ${n.group}`, location: az.location }, () =>
      az.resources.resourceGroups.createOrUpdate(n.group, { location: az.location, tags: deploymentTags(deployment) }),
    );
    await journal.created(AZURE_RESOURCE.group, scopedId(group.id!));
  }

  // 2. public mode: the static address first, so the bootstrap's hostname can embed it
  let publicIp: { id: string; ipAddress: string; fqdn?: string } | undefined;
  if (ctx.spec.network === 'public') {
    const existing = await stillThere(journal, AZURE_RESOURCE.publicIp, () => getPublicIp(az, deployment));
    const live = existing ? await getPublicIp(az, deployment) : undefined;
    if (live?.id && live.ipAddress) {
      publicIp = { id: live.id, ipAddress: live.ipAddress };
    } else {
      ctx.progress(`allocating static public IP ${n.publicIp}`);
      await journal.intend(AZURE_RESOURCE.publicIp, AZURE_RESOURCE.publicIp, { region: az.location });
      publicIp = await putPublicIp(az, deployment);
      await journal.created(AZURE_RESOURCE.publicIp, scopedId(publicIp.id), { publicIp: publicIp.ipAddress, fqdn: publicIp.fqdn ?? null });
    }
  }
  const bootstrap = bootstrapFor(publicIp ? { publicIp: publicIp.ipAddress } : {});

  // 3. NSG: PUT every run, so its rules always match the mode (no inbound allow rule in tunnel mode)
  const nsgRec = await stillThere(journal, AZURE_RESOURCE.nsg, () => getNsg(az, deployment));
  if (!nsgRec) {
    ctx.progress(`creating network security group ${n.nsg}`);
    await journal.intend(AZURE_RESOURCE.nsg, AZURE_RESOURCE.nsg, { region: az.location });
  }
  ctx.debug(`azure: network security group ${n.nsg}, inbound tcp ports [${bootstrap.inboundPorts.join(', ')}]`);
  const nsg = await putNsg(az, deployment, bootstrap.inboundPorts);
  if (!nsgRec) await journal.created(AZURE_RESOURCE.nsg, scopedId(nsg.id!));

  // 4. virtual network + subnet (PUT every run too: the subnet's outbound setting follows the mode)
  const vnetRec = await stillThere(journal, AZURE_RESOURCE.vnet, () => getVnet(az, deployment));
  if (!vnetRec) {
    ctx.progress(`creating virtual network ${n.vnet}`);
    await journal.intend(AZURE_RESOURCE.vnet, AZURE_RESOURCE.vnet, { region: az.location });
  }
  const vnet = await putVnet(az, deployment, ctx.spec.network === 'public');
  if (!vnetRec) await journal.created(AZURE_RESOURCE.vnet, scopedId(vnet.id));

  // 5. NIC (PUT every run: it attaches or drops the public IP as the mode says)
  const nicRec = await stillThere(journal, AZURE_RESOURCE.nic, () => getNic(az, deployment));
  if (!nicRec) {
    ctx.progress(`creating network interface ${n.nic}`);
    await journal.intend(AZURE_RESOURCE.nic, AZURE_RESOURCE.nic, { region: az.location });
  }
  const nicId = await putNic(az, deployment, { subnetId: vnet.subnetId, nsgId: nsg.id!, ...(publicIp ? { publicIpId: publicIp.id } : {}) });
  if (!nicRec) await journal.created(AZURE_RESOURCE.nic, scopedId(nicId));
  if (ctx.spec.network === 'tunnel') await dropStaleAddress(az, ctx, journal);

  // 6. VM
  const vmRec = await stillThere(journal, AZURE_RESOURCE.vm, async () => {
    const f = await describeVm(az, deployment);
    return f && f.vm.provisioningState !== 'Failed' ? f : undefined;
  });
  if (!vmRec) {
    const failed = await describeVm(az, deployment);
    if (failed?.vm.provisioningState === 'Failed') {
      // an allocation that failed after the PUT leaves a VM in Failed state: remove it, then retry
      ctx.progress(`removing virtual machine ${n.vm} left in Failed state by an earlier run`);
      await azureCall({ action: `delete virtual machine ${n.vm}`, location: az.location }, () => az.compute.virtualMachines.delete(n.group, n.vm, lro(az)));
    }
    await journal.intend(AZURE_RESOURCE.vm, AZURE_RESOURCE.vm, { region: az.location, meta: { vmSize: opts.vmSize, image: image.id } });
    ctx.progress(`creating ${opts.vmSize} virtual machine ${n.vm} (${image.name})`);
    try {
      const vm = await createVm(az, { deployment, vmSize: opts.vmSize, image, nicId, userData: bootstrap.userData, idleStopMinutes: ctx.spec.idleStopMinutes ?? 0 }, opts.otherSizes);
      await journal.created(AZURE_RESOURCE.vm, scopedId(vm.id!), { vmSize: opts.vmSize, image: image.id });
    } catch (e) {
      // nothing usable was created: forget the intent, so the next run (perhaps another --size) starts clean
      const left = await describeVm(az, deployment);
      if (!left) await journal.deleted(AZURE_RESOURCE.vm);
      throw e;
    }
  }
  const facts = await describeVm(az, deployment);
  if (!facts) throw new CliError(`virtual machine ${n.vm} disappeared while it was being created`, { hint: 'run init again: it resumes where it stopped' });

  // 7. the OS disk carries no tags of its own: tag it, and journal it so destroy knows it
  const diskId = await tagOsDisk(az, deployment, facts.vm);
  if (diskId) {
    if (journal.find(AZURE_RESOURCE.disk)?.phase !== 'created') await journal.intend(AZURE_RESOURCE.disk, AZURE_RESOURCE.disk, { region: az.location });
    await journal.created(AZURE_RESOURCE.disk, scopedId(diskId));
  }

  // 8. idle auto-stop: the VM's identity may deallocate this VM, nothing else (with it off, no role:
  // the installer then needs no Microsoft.Authorization write permission; scale --idle-stop adds it)
  if ((ctx.spec.idleStopMinutes ?? 0) > 0) await ensureSelfDeallocate(az, ctx, journal, facts.vm);

  // 9. a resumed run may find it deallocated
  if (facts.power !== 'running') {
    ctx.progress(`starting virtual machine ${n.vm}`);
    await startVm(az, deployment, opts.otherSizes);
  }
  const status = await currentStatus(az, ctx.spec);
  await journal.created(AZURE_RESOURCE.vm, journal.find(AZURE_RESOURCE.vm)!.id!, { vmSize: status.instanceType ?? opts.vmSize, publicIp: status.publicIp ?? null, image: image.id });
  return status;
}

/** The image recorded with a VM intent (so a resumed create is the same request), else the newest. */
async function imageFor(az: AzureClients, journal: Journal): Promise<ImageChoice> {
  const m = journal.find(AZURE_RESOURCE.vm)?.meta;
  if (typeof m?.image === 'string') {
    const [, , , version] = m.image.split(':');
    if (version) return { id: m.image, name: `Ubuntu Server 24.04 LTS (${version})`, version };
  }
  return findUbuntuImage(az);
}

/** Tunnel mode after an earlier public-mode run: the NIC no longer uses the address, so release it. */
async function dropStaleAddress(az: AzureClients, ctx: ProviderContext, journal: Journal): Promise<void> {
  const stale = journal.find(AZURE_RESOURCE.publicIp);
  if (!stale || stale.phase === 'deleted') return;
  const n = resourceNames(ctx.spec.name);
  ctx.progress(`releasing public IP ${n.publicIp} (tunnel mode needs none)`);
  await journal.deleting(AZURE_RESOURCE.publicIp);
  await azureCall({ action: `delete public IP ${n.publicIp}`, location: az.location }, () => az.network.publicIPAddresses.delete(n.group, n.publicIp, lro(az)));
  await journal.deleted(AZURE_RESOURCE.publicIp);
}

import { generateKeyPairSync } from 'node:crypto';
import type { VirtualMachine } from '@azure/arm-compute';
import { HOLD_TAG, type VmState, type VmStatus } from '../../model/deployment.js';
import type { AzureClients } from './clients.js';
import { lro } from './clients.js';
import { azureCall, getOrUndefined, toCliError } from './errors.js';
import type { ImageChoice } from './lookups.js';
import { UBUNTU } from './lookups.js';
import { deploymentTags, resourceNames } from './names.js';
import { OS_DISK_GIB, OS_DISK_TYPE } from './plan.js';

/** Azure's power states (PowerState/<x> in the instance view). */
export type PowerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated' | 'unknown';

export interface VmFacts {
  vm: VirtualMachine;
  power: PowerState;
}

const ADMIN_USER = 'crawl4ai';
/** Marks the one SSH key the VM has as one whose private half was never kept. */
export const THROWAWAY_KEY_COMMENT = 'crawl4ai-mcp-discarded-private-key';

/**
 * Azure refuses a Linux VM with neither a password nor an SSH key ("Authentication using either
 * SSH or by user name and password must be enabled in Linux profile"). So the VM gets an Ed25519
 * public key whose private half is generated here and dropped at once: written nowhere, it opens
 * nothing; the NSG has no port 22 either, and password login stays disabled.
 */
export function throwawayPublicKey(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${THROWAWAY_KEY_COMMENT}`;
}

export interface CreateVmParams {
  deployment: string;
  vmSize: string;
  image: ImageChoice;
  nicId: string;
  userData: string;
  /** idle auto-stop minutes, kept in the VM's userData (IMDS serves it; `scale --idle-stop` changes it) */
  idleStopMinutes: number;
}

/** The VM's userData: only the idle auto-stop minutes, which idle-stop.sh reads from IMDS each minute. Holds no secret. */
export const idleStopUserData = (minutes: number): string => Buffer.from(`IDLE_STOP_MINUTES=${minutes}\n`, 'utf8').toString('base64');

/**
 * The VM: cloud-init as customData (Azure hands it to cloud-init and never returns it from the
 * API or IMDS), a Standard SSD managed OS disk deleted with the VM, no password, no usable SSH
 * key, Trusted Launch (secure boot + vTPM), managed boot diagnostics. A system-assigned managed
 * identity, whose only role (self-deallocate.ts) lets it deallocate this VM when idle; userData
 * holds the idle auto-stop minutes and nothing secret (unlike customData, IMDS and GET show it).
 */
export function vmDefinition(az: AzureClients, p: CreateVmParams): VirtualMachine {
  const n = resourceNames(p.deployment);
  return {
    location: az.location,
    tags: deploymentTags(p.deployment),
    identity: { type: 'SystemAssigned' },
    userData: idleStopUserData(p.idleStopMinutes),
    hardwareProfile: { vmSize: p.vmSize },
    storageProfile: {
      imageReference: { publisher: UBUNTU.publisher, offer: UBUNTU.offer, sku: UBUNTU.sku, version: p.image.version },
      osDisk: {
        name: n.osDisk,
        createOption: 'FromImage',
        caching: 'ReadWrite',
        diskSizeGB: OS_DISK_GIB,
        managedDisk: { storageAccountType: OS_DISK_TYPE },
        deleteOption: 'Delete',
      },
    },
    osProfile: {
      computerName: n.computerName,
      adminUsername: ADMIN_USER,
      customData: Buffer.from(p.userData, 'utf8').toString('base64'),
      linuxConfiguration: {
        disablePasswordAuthentication: true,
        provisionVMAgent: true,
        ssh: { publicKeys: [{ path: `/home/${ADMIN_USER}/.ssh/authorized_keys`, keyData: throwawayPublicKey() }] },
      },
    },
    networkProfile: { networkInterfaces: [{ id: p.nicId, primary: true, deleteOption: 'Delete' }] },
    securityProfile: { securityType: 'TrustedLaunch', uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } },
    // managed boot diagnostics (no storage account of ours): the serial log `status` and `logs --boot` read
    diagnosticsProfile: { bootDiagnostics: { enabled: true } },
  };
}

export async function createVm(az: AzureClients, p: CreateVmParams, otherSizes: string[]): Promise<VirtualMachine> {
  const n = resourceNames(p.deployment);
  try {
    return await az.compute.virtualMachines.createOrUpdate(n.group, n.vm, vmDefinition(az, p), lro(az));
  } catch (e) {
    throw toCliError(e, { action: `create virtual machine ${n.vm}`, location: az.location, otherSizes, tried: `${p.vmSize} in ${az.location}` });
  }
}

/**
 * The implicit OS disk is created without the VM's tags, so discovery by tag would miss it:
 * tag it once the VM exists.
 */
export async function tagOsDisk(az: AzureClients, deployment: string, vm: VirtualMachine): Promise<string | undefined> {
  const n = resourceNames(deployment);
  const diskName = vm.storageProfile?.osDisk?.name ?? n.osDisk;
  const disk = await azureCall({ action: `tag OS disk ${diskName}`, location: az.location }, () =>
    az.compute.disks.update(n.group, diskName, { tags: deploymentTags(deployment) }, lro(az)),
  );
  return disk.id;
}

export async function describeVm(az: AzureClients, deployment: string): Promise<VmFacts | undefined> {
  const n = resourceNames(deployment);
  const vm = await getOrUndefined({ action: `read virtual machine ${n.vm}`, location: az.location }, () =>
    az.compute.virtualMachines.get(n.group, n.vm, { expand: 'instanceView' }),
  );
  if (!vm) return undefined;
  const code = vm.instanceView?.statuses?.map((s) => s.code ?? '').find((c) => c.startsWith('PowerState/'));
  return { vm, power: (code?.slice('PowerState/'.length) as PowerState | undefined) ?? 'unknown' };
}

/** Azure's power state in the Provider's words. Stopped-but-allocated still bills compute: see billedState. */
export function vmState(power: PowerState): VmState {
  switch (power) {
    case 'running':
      return 'running';
    case 'starting':
      return 'pending';
    case 'stopping':
    case 'deallocating':
      return 'stopping';
    case 'stopped':
    case 'deallocated':
      return 'stopped';
    default:
      return 'unknown';
  }
}

export function toVmStatus(f: VmFacts | undefined, publicIp?: string, privateIp?: string): VmStatus {
  if (!f) return { state: 'missing' };
  return {
    state: vmState(f.power),
    ...(f.vm.hardwareProfile?.vmSize ? { instanceType: f.vm.hardwareProfile.vmSize } : {}),
    ...(publicIp ? { publicIp } : {}),
    ...(privateIp ? { privateIp } : {}),
    ...(f.vm.timeCreated ? { launchedAt: new Date(f.vm.timeCreated).toISOString() } : {}),
    ...(f.vm.tags?.[HOLD_TAG] !== undefined ? { held: true } : {}),
    ...(f.power === 'stopped' || f.power === 'stopping' ? { computeBilled: true } : {}),
    ...powerTimes(f),
  };
}

/**
 * When the VM last started (running) or was deallocated, from the instance view: Azure dates the
 * last operation's end on its ProvisioningState status (PowerState carries no time). How `status`
 * dates a deallocation by the idle watchdog or a start by the Worker's wake.
 */
function powerTimes(f: VmFacts): Pick<VmStatus, 'startedAt' | 'stoppedAt'> {
  const raw = f.vm.instanceView?.statuses?.find((s) => s.code?.startsWith('ProvisioningState/'))?.time;
  const t = raw ? new Date(raw) : undefined;
  if (!t || !Number.isFinite(t.getTime())) return {};
  if (f.power === 'running') return { startedAt: t.toISOString() };
  if (f.power === 'deallocated') return { stoppedAt: t.toISOString() };
  return {};
}

/**
 * Puts or removes the hold tag (`stop --hold`: the Worker does not wake a VM carrying it). A VM
 * PATCH replaces the whole tag set, so the others are written back as read. No write when there is
 * nothing to change (`start` of a VM never held).
 */
export async function setVmHold(az: AzureClients, deployment: string, hold: boolean): Promise<void> {
  const n = resourceNames(deployment);
  const vm = await azureCall({ action: `read virtual machine ${n.vm}`, location: az.location }, () => az.compute.virtualMachines.get(n.group, n.vm));
  const tags: Record<string, string> = { ...(vm.tags ?? {}) };
  if ((HOLD_TAG in tags) === hold) return;
  if (hold) tags[HOLD_TAG] = new Date().toISOString();
  else delete tags[HOLD_TAG];
  await azureCall({ action: `${hold ? 'tag' : 'untag'} virtual machine ${n.vm} (hold)`, location: az.location }, () => az.compute.virtualMachines.update(n.group, n.vm, { tags }, lro(az)));
}

/** Starts the VM and waits until it runs; a size without capacity is exit 4 naming other sizes. */
export async function startVm(az: AzureClients, deployment: string, otherSizes: string[] = []): Promise<void> {
  const n = resourceNames(deployment);
  try {
    await az.compute.virtualMachines.start(n.group, n.vm, lro(az));
  } catch (e) {
    throw toCliError(e, { action: `start virtual machine ${n.vm}`, location: az.location, otherSizes });
  }
}

/** Stop means deallocate: a guest power-off ("stopped") keeps billing compute; deallocated does not. */
export async function deallocateVm(az: AzureClients, deployment: string): Promise<void> {
  const n = resourceNames(deployment);
  await azureCall({ action: `deallocate virtual machine ${n.vm}`, location: az.location }, () => az.compute.virtualMachines.deallocate(n.group, n.vm, lro(az)));
}

/** Replaces the VM's userData (Azure allows it while the VM runs; no restart needed). */
export async function setVmUserData(az: AzureClients, deployment: string, userData: string): Promise<void> {
  const n = resourceNames(deployment);
  await azureCall({ action: `update the user data of virtual machine ${n.vm}`, location: az.location }, () =>
    az.compute.virtualMachines.update(n.group, n.vm, { userData }, lro(az)),
  );
}

export async function setVmSize(az: AzureClients, deployment: string, vmSize: string): Promise<void> {
  const n = resourceNames(deployment);
  await azureCall({ action: `resize virtual machine ${n.vm} to ${vmSize}`, location: az.location }, () =>
    az.compute.virtualMachines.update(n.group, n.vm, { hardwareProfile: { vmSize } }, lro(az)),
  );
}


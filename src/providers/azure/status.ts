import { estimateMonthly } from '../../pricing/estimate.js';
import type { DeploymentSpec, VmStatus } from '../../model/deployment.js';
import type { AzureClients } from './clients.js';
import { getNic, getPublicIp } from './network.js';
import { OS_DISK_GIB } from './plan.js';
import { describeVm, toVmStatus, type PowerState } from './vm.js';

/** The VM's state, size and addresses (public IP only in public mode; the private one from the NIC), and what its power state bills. */
export async function currentStatus(az: AzureClients, spec: DeploymentSpec): Promise<VmStatus> {
  const [facts, nic, ip] = await Promise.all([describeVm(az, spec.name), getNic(az, spec.name), getPublicIp(az, spec.name)]);
  const status = toVmStatus(facts, ip?.ipAddress, nic?.ipConfigurations?.[0]?.privateIPAddress);
  return facts ? { ...status, detail: billing(facts.power, spec) } : status;
}

/**
 * Azure's power states differ in what they bill: "stopped" (a shutdown from inside the VM) keeps
 * the compute allocated and billed; only "deallocated" stops the compute charge.
 */
export function billing(power: PowerState, spec: DeploymentSpec): string {
  const c = estimateMonthly({ provider: 'azure', region: spec.region, size: spec.size, diskGiB: OS_DISK_GIB, publicIpv4: spec.network === 'public', staticIpv4: spec.network === 'public' });
  const running = `about $${c.monthlyUsd.toFixed(2)}/month`;
  const parked = `about $${c.stoppedMonthlyUsd.toFixed(2)}/month`;
  switch (power) {
    case 'running':
    case 'starting':
      return `Azure: ${power}, ${running}`;
    case 'deallocated':
    case 'deallocating':
      return `Azure: ${power === 'deallocated' ? 'stopped (deallocated)' : 'deallocating'}, compute not billed: ${parked} for the disk${spec.network === 'public' ? ' and static IP' : ''}`;
    case 'stopped':
    case 'stopping':
      return `Azure: ${power} but still allocated, compute billed in full (${running}); run crawl4ai-mcp stop to deallocate`;
    default:
      return `Azure: power state ${power}`;
  }
}

import type { VmStatus } from '../../model/deployment.js';
import type { AzureClients } from './clients.js';
import { getNic, getPublicIp } from './network.js';
import { describeVm, toVmStatus } from './vm.js';

/** The VM's state, size and addresses (public IP only in public mode; the private one from the NIC). */
export async function currentStatus(az: AzureClients, deployment: string): Promise<VmStatus> {
  const [facts, nic, ip] = await Promise.all([describeVm(az, deployment), getNic(az, deployment), getPublicIp(az, deployment)]);
  return toVmStatus(facts, ip?.ipAddress, nic?.ipConfigurations?.[0]?.privateIPAddress);
}

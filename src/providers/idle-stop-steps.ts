import { secretFreeUserData } from '../bootstrap/cloud-init.js';
import type { VmStatus } from '../model/deployment.js';
import type { ProviderContext } from './provider.js';

/**
 * `scale --idle-stop` where the new minutes reach the VM through cloud-init's user data (AWS,
 * GCP): a secret-free user data whose bootcmd rewrites IDLE_STOP_MINUTES at each boot, so the VM
 * is stopped, given it, and started. Written once; each cloud brings its own three calls.
 */
export async function restartWithIdleStop(
  ctx: ProviderContext,
  minutes: number,
  what: string,
  steps: { stop(): Promise<unknown>; setUserData(userData: string): Promise<unknown>; start(): Promise<VmStatus> },
): Promise<VmStatus> {
  ctx.progress(`stopping ${what} to change its idle auto-stop setting`);
  await steps.stop();
  await steps.setUserData(secretFreeUserData(minutes));
  ctx.progress(`starting ${what}; it applies the setting as it boots`);
  return steps.start();
}

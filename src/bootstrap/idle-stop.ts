import { usageError } from '../ground/errors.js';
import type { ProviderName } from '../model/deployment.js';

/**
 * Idle auto-stop (templates/cloud-init/idle-stop.sh): the VM stops itself after this long without
 * a crawl request. A guest power-off ends compute billing on AWS (launched with
 * InstanceInitiatedShutdownBehavior=stop) and GCP (TERMINATED); on Azure it does not (a VM stopped
 * from inside stays allocated and billed), so there the VM's managed identity deallocates it.
 */
export const DEFAULT_IDLE_STOP_MINUTES = 60;
/** Below this a VM could stop while it is still booting and pulling the image (about 5 min). */
export const MIN_IDLE_STOP_MINUTES = 10;
export const MAX_IDLE_STOP_MINUTES = 7 * 24 * 60;

/** "45m", "2h", "off" -> minutes (0 = off); anything else is a usage error saying what works. */
export function parseIdleStop(value: string): number {
  const v = value.trim().toLowerCase();
  if (v === 'off' || v === '0') return 0;
  const m = /^(\d+)\s*(m|min|h)$/.exec(v);
  const minutes = m ? Number(m[1]) * (m[2] === 'h' ? 60 : 1) : NaN;
  if (!Number.isInteger(minutes) || minutes < MIN_IDLE_STOP_MINUTES || minutes > MAX_IDLE_STOP_MINUTES) {
    throw usageError(
      `invalid --idle-stop "${value}"`,
      `give minutes or hours between ${MIN_IDLE_STOP_MINUTES}m and ${MAX_IDLE_STOP_MINUTES / 60}h (e.g. 30m, 2h), or off`,
    );
  }
  return minutes;
}

/** How the watchdog stops the VM (settings.env IDLE_STOP_ACTION). */
export const IDLE_STOP_ACTIONS = ['poweroff', 'azure-deallocate'] as const;
export type IdleStopAction = (typeof IDLE_STOP_ACTIONS)[number];

/** Azure bills a powered-off VM until it is deallocated; the other clouds stop billing at power-off. */
export const idleStopActionFor = (provider: ProviderName): IdleStopAction => (provider === 'azure' ? 'azure-deallocate' : 'poweroff');

/** The minutes a deployment gets: the flag's value, else the default of its cloud. */
export function idleStopFor(provider: ProviderName, flag: string | undefined): number {
  if (provider === 'cloudflare') {
    // a Container sleeps by itself (sleepAfter); there is no VM to power off
    if (flag !== undefined && parseIdleStop(flag) !== 0) {
      throw usageError('--idle-stop does not apply to --provider cloudflare', 'a Container sleeps after CRAWL4AI_MCP_CONTAINER_SLEEP_AFTER (default 10m) without requests; drop --idle-stop');
    }
    return 0;
  }
  return flag === undefined ? DEFAULT_IDLE_STOP_MINUTES : parseIdleStop(flag);
}

/** "60 min", "2 h", "off" for output. */
export function describeIdleStop(minutes: number): string {
  if (minutes === 0) return 'off';
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
}

import type { VmStatus } from '../model/deployment.js';
import type { DeploymentState } from '../state/schema.js';

/**
 * The VM's power history, kept in the state's outputs (`runningSince` while running,
 * `runningHoursBefore` summed over earlier runs, `stoppedSince` while stopped), so the cost so
 * far counts stopped time as stopped. Written by init and the power verbs; `status` records the
 * changes nobody told the CLI about (the idle watchdog's stop, the Worker's wake).
 */

/** Hours the VM has run by `now`. */
export function runningHoursOf(state: DeploymentState, now = Date.now()): number {
  const before = typeof state.outputs.runningHoursBefore === 'number' ? state.outputs.runningHoursBefore : 0;
  const since = typeof state.outputs.runningSince === 'string' ? Date.parse(state.outputs.runningSince) : NaN;
  return before + (Number.isFinite(since) ? Math.max(0, now - since) / 3_600_000 : 0);
}

/** The outputs after the VM started (running) or stopped (not running) at `now`. */
export function powerHistory(state: DeploymentState, running: boolean, now = new Date()): DeploymentState['outputs'] {
  const wasRunning = typeof state.outputs.runningSince === 'string';
  if (running) return wasRunning ? state.outputs : { ...state.outputs, runningSince: now.toISOString(), stoppedSince: null };
  if (!wasRunning && typeof state.outputs.stoppedSince === 'string') return state.outputs;
  return { ...state.outputs, runningHoursBefore: runningHoursOf(state, now.getTime()), runningSince: null, stoppedSince: now.toISOString() };
}

/** `at` when it parses and falls within [after, now]; else the nearer bound (a clock off, or no date). */
function within(at: string | undefined, after: number, now: number): Date {
  const t = at ? Date.parse(at) : NaN;
  if (!Number.isFinite(t)) return new Date(now);
  return new Date(Math.min(now, Math.max(Number.isFinite(after) ? after : -Infinity, t)));
}

/**
 * The outputs once the history agrees with what the cloud reports, or null when it already does:
 * - recorded running, the VM stopped → a stop at the cloud's stop time (AWS StateTransitionReason,
 *   GCE lastStopTimestamp, Azure's deallocation time); without one, now (it ran at most until now);
 * - recorded stopped, the VM running → a start at the cloud's start time (AWS LaunchTime, GCE
 *   lastStartTimestamp, Azure's start time); without one, now.
 * A VM stopped but still billed for compute (Azure, powered off from inside) counts as running.
 * Only a history the CLI began (init wrote `runningSince`) is changed: an older deployment without
 * one is left alone. Pending/stopping are in between and left to the next look.
 */
export function reconciledPowerHistory(state: DeploymentState, vm: VmStatus, now = Date.now()): DeploymentState['outputs'] | null {
  const o = state.outputs;
  if (!('runningSince' in o)) return null;
  const running = typeof o.runningSince === 'string';
  // stopped but still billed (Azure: allocated) counts as running, as the bill does
  const vmRunning = vm.state === 'running' || (vm.state === 'stopped' && vm.computeBilled === true);
  if (running && vm.state === 'stopped' && !vm.computeBilled) {
    return powerHistory(state, false, within(vm.stoppedAt, Date.parse(o.runningSince as string), now));
  }
  if (!running && vmRunning) {
    const stoppedSince = typeof o.stoppedSince === 'string' ? Date.parse(o.stoppedSince) : NaN;
    return powerHistory(state, true, within(vm.startedAt, stoppedSince, now));
  }
  return null;
}

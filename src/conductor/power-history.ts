import type { DeploymentState } from '../state/schema.js';

/**
 * The VM's power history, kept in the state's outputs (`runningSince` while running,
 * `runningHoursBefore` summed over earlier runs), so the cost so far counts stopped time as
 * stopped. Written by init and the power verbs, read by status.
 */
/**
 * Hours the VM has run, from the power history kept in the state's outputs (`runningSince` while
 * running, `runningHoursBefore` summed over earlier runs), so the cost so far counts stopped
 * time as stopped.
 */
export function runningHoursOf(state: DeploymentState, now = Date.now()): number {
  const before = typeof state.outputs.runningHoursBefore === 'number' ? state.outputs.runningHoursBefore : 0;
  const since = typeof state.outputs.runningSince === 'string' ? Date.parse(state.outputs.runningSince) : NaN;
  return before + (Number.isFinite(since) ? Math.max(0, now - since) / 3_600_000 : 0);
}

/** The outputs after the VM started (running) or stopped (not running). */
export function powerHistory(state: DeploymentState, running: boolean, now = new Date()): DeploymentState['outputs'] {
  const wasRunning = typeof state.outputs.runningSince === 'string';
  if (running) return wasRunning ? state.outputs : { ...state.outputs, runningSince: now.toISOString() };
  return { ...state.outputs, runningHoursBefore: runningHoursOf(state, now.getTime()), runningSince: null };
}


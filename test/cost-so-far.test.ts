import { describe, expect, it } from 'vitest';
import { runningHoursOf } from '../src/conductor/power-history.js';
import { newDeploymentState } from '../src/state/schema.js';

describe('cost so far counts only the hours the VM ran', () => {
  const at = (iso: string) => Date.parse(iso);

  it('a running VM counts from when it started, plus earlier runs', () => {
    const s = newDeploymentState('x');
    s.outputs = { runningSince: '2026-11-01T00:00:00.000Z', runningHoursBefore: 5 };
    expect(runningHoursOf(s, at('2026-11-01T10:00:00.000Z'))).toBe(15);
  });

  it('a stopped VM counts only its earlier runs, however long it has been stopped', () => {
    const s = newDeploymentState('x');
    s.outputs = { runningSince: null, runningHoursBefore: 7.5 };
    expect(runningHoursOf(s, at('2026-12-01T00:00:00.000Z'))).toBe(7.5);
  });

  it('a deployment without power history has run zero hours', () => {
    expect(runningHoursOf(newDeploymentState('x'))).toBe(0);
  });
});

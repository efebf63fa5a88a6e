/** Per-minute limits use fixed one-minute windows: start a limited sequence well inside one. */
export async function awayFromMinuteEdge(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 45_000) await new Promise((r) => setTimeout(r, 60_000 - into + 50));
}

/** Waits until `msBefore` ms before the next clock minute (to test what happens across the boundary). */
export async function nearMinuteEnd(msBefore = 2_500): Promise<void> {
  const into = Date.now() % 60_000;
  const target = 60_000 - msBefore;
  await new Promise((r) => setTimeout(r, (target - into + 60_000) % 60_000));
}

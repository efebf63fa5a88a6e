import { defineConfig } from 'vitest/config';

// Tests spawn the built CLI, wrangler/workerd and loopback emulators; on a 2-core machine
// these need generous timeouts and limited parallelism.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});

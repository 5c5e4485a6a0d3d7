import { defineConfig } from 'vitest/config';

// The fault suite alone (`npm run test:faults`, long form with `-- --long`). `npm test` runs
// its short form through vitest.config.ts like every other suite.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 300_000,
    // One scenario file at a time: the faults and their timing need the two cores.
    maxWorkers: 1,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});

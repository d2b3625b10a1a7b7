import { defineConfig } from 'vitest/config';

/**
 * Tests that load the machine on purpose (crash and kill scenarios, floods, several nodes, timed
 * fairness): they run after the others, two at a time, so none competes with more than one other
 * for the CPU. Everything else mostly waits on child processes, sockets and PostgreSQL, so three
 * files run at once even on 2 cores (vitest's default there is one: 14 minutes instead of 5).
 */
const HEAVY = [
  'test/e2e/reliability/**/*.test.ts',
  'test/e2e/crash.test.ts',
  'test/e2e/postgres-crash.test.ts',
  'test/e2e/multi-node.test.ts',
  'test/e2e/delivery-fairness.test.ts',
  'test/e2e/connection-limits.test.ts',
];

const shared = {
  globalSetup: ['test/helpers/temp-root.ts'],
  testTimeout: 20_000,
  hookTimeout: 30_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          ...shared,
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: HEAVY,
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'heavy',
          include: HEAVY,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

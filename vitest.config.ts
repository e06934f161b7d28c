import { defineConfig } from 'vitest/config';

// Tests run on TypeScript source: the `@steadykms/source` export condition points each workspace
// package at its `src/index.ts`, so no build is needed between an edit and a test run.
export default defineConfig({
  resolve: { conditions: ['@steadykms/source', 'import', 'node', 'default'] },
  ssr: { resolve: { conditions: ['@steadykms/source', 'import', 'node', 'default'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The machine has two cores; more workers only add contention to timing-sensitive quota tests.
    maxWorkers: 2,
  },
});

import { defineConfig } from 'vitest/config';

// one VM per worker: the files of a worker share its modules (isolate: false), and so its VM
export default defineConfig({
  test: {
    include: ['*.test.ts'],
    root: import.meta.dirname,
    pool: 'forks',
    isolate: false,
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});

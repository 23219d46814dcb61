import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['contract/**/*.test.ts', 'launcher/**/*.test.ts', 'container-init/**/*.test.ts', 'toolbox/**/*.test.ts', 'volumes/**/*.test.ts', 'runtime/**/*.test.ts', 'examples/oci-runtime/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          // every run boots a VM; under TCG two at once already fill both cores: one file at a
          // time, after the unit tests; each e2e project in a group of its own, one after the
          // other, so that no project's VMs show in another's leftover checks or event counts
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          // the example project users copy (examples/vitest), run as they would run it
          name: 'examples',
          include: ['examples/vitest/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 2 },
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          // the engines users run besides the local dockerd (a remote dockerd 26 over TCP), each started by the set-up
          name: 'e2e-engines',
          include: ['test/e2e-engines/**/*.test.ts'],
          globalSetup: ['test/helpers/engines-setup.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 3 },
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          // tests that build toolboxes on the engine: alone, after the others (a build's helper
          // containers and scratch volumes must not show up in another test's leftovers check)
          name: 'e2e-toolbox',
          include: ['test/e2e-toolbox/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 4 },
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          // takes the shared toolbox and the base image away for a while: alone, last
          name: 'e2e-last',
          include: ['test/e2e-last/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 5 },
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});

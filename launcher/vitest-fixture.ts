/**
 * `testin/vitest`: a booted VM as a vitest fixture.
 *
 *     import { createVmTest } from 'testin/vitest';
 *     const test = await createVmTest({ image: 'debian:12' });
 *     test('a veth pair', async ({ vm }) => { ... await vm.exec([...]) ... });
 */
import { test as base, type TestAPI } from 'vitest';
import { randomBytes } from 'node:crypto';
import { failInCI } from './ci-detect.js';
import { createDockerClient } from './dockerode-client.js';
import { start, type Machine, type StartOptions } from './machine.js';

export interface VmFixtureOptions extends Omit<StartOptions, 'name' | 'persistent'> {
  /**
   * 'test' (default): a fresh VM per test; 'file': one VM shared by the tests of a file;
   * 'worker': one VM per vitest worker, shared by every file that worker runs, stopped when
   * the worker ends. For that, make the test in one module the files import, and run vitest
   * with `isolate: false` (a module is then evaluated once per worker): a suite of N files
   * on W workers boots W VMs, not N. Nothing is reset between files: what a file changes in
   * the VM (files, mounts, network, modules) the next file of that worker sees; a file that
   * changes the VM undoes it in its afterAll, or uses scope 'file'
   */
  scope?: 'test' | 'file' | 'worker';
}

/** Why the fixture cannot run here ('' when it can). */
async function missing(): Promise<string> {
  try {
    await createDockerClient().ping();
    return '';
  } catch (error) {
    return `no Docker engine answers (${(error as Error).message}): start dockerd or set DOCKER_HOST`;
  }
}

/**
 * A vitest `test` whose tests get a booted VM as `vm`. Where Docker cannot be
 * reached the tests are skipped with one line saying why, except in CI
 * (see isCI), where that is an error.
 */
export async function createVmTest(options: VmFixtureOptions): Promise<TestAPI<{ vm: Machine }>> {
  const { scope = 'test', ...startOptions } = options;
  const why = await missing();
  failInCI(why);
  const test = base.extend<{ vm: Machine }>({
    vm: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from its first parameter's pattern
      async ({}, use) => {
        // unique per worker and test, so parallel workers never collide
        const name = `testin-vitest-${process.env.VITEST_POOL_ID ?? '0'}-${process.pid}-${randomBytes(3).toString('hex')}`;
        const vm = await start({ ...startOptions, name });
        try {
          await use(vm);
        } finally {
          await vm.stop();
        }
      },
      { scope },
    ],
  });
  if (!why) return test;
  console.warn(`testin: skipping the VM tests: ${why}`);
  return test.skipIf(true) as unknown as TestAPI<{ vm: Machine }>;
}

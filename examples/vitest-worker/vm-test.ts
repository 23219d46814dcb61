/**
 * Copy me: one VM per vitest worker, shared by all the files that worker runs.
 * Every test file imports `test` from here; vitest.config.ts sets `isolate: false`,
 * so this module (and its VM) is made once per worker: N files on W workers boot
 * W VMs. Nothing is reset between files: a file that changes the VM undoes it.
 */
import { createVmTest } from 'testin/vitest';

const image = process.env.TESTIN_EXAMPLE_IMAGE ?? 'testin-test/busybox:1';

export const test = await createVmTest({ image, scope: 'worker' });

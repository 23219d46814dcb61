/**
 * Copy me: one VM per vitest worker, shared by all the files that worker runs.
 * Every test file imports `test` from here; vitest.config.ts sets `isolate: false`,
 * so this module (and its VM) is made once per worker: N files on W workers boot
 * W VMs. Nothing is reset between files: a file that changes the VM undoes it.
 */
import { appendFileSync } from 'node:fs';
import { createVmTest } from 'testin/vitest';
import { expect } from 'vitest';

const image = process.env.TESTIN_EXAMPLE_IMAGE ?? 'testin-test/busybox:1';

export const test = await createVmTest({ image, scope: 'worker' });

/** The one test each file of this example defines: it runs in its worker's VM and leaves a line there. */
export function defineFileTest(file: string): void {
  test(`${file}: runs in the worker's VM`, async ({ vm }) => {
    const r = await vm.exec(['sh', '-c', `uname -r; echo ${file} >> /tmp/files-seen; cat /tmp/files-seen`]);
    expect(r.exitCode).toBe(0);
    const [release, ...files] = r.stdout.toString().trim().split('\n');
    expect(release).toMatch(/^\d+\.\d+/);
    // the files before this one in the same worker left their lines (the VM is shared), each file once
    expect(files.at(-1)).toBe(file);
    expect(new Set(files).size).toBe(files.length);
    const seen = files.length;
    // for the suite's own check (test/e2e/vitest-worker.test.ts): which VM ran which file
    if (process.env.TESTIN_WORKER_LOG) appendFileSync(process.env.TESTIN_WORKER_LOG, `${vm.name} ${file} ${seen}\n`);
  });
}

import { appendFileSync } from 'node:fs';
import { expect } from 'vitest';
import { test } from './vm-test.js';

test('two: runs in the worker\'s VM', async ({ vm }) => {
  const r = await vm.exec(['sh', '-c', 'uname -r; echo two >> /tmp/files-seen; cat /tmp/files-seen | wc -l']);
  expect(r.exitCode).toBe(0);
  const [release, seen] = r.stdout.toString().trim().split('\n');
  expect(release).toMatch(/^\d+\.\d+/);
  // the files before this one in the same worker left their line: the VM is shared
  expect(Number(seen)).toBeGreaterThanOrEqual(1);
  // for the suite's own check (test/e2e/vitest-worker.test.ts): which VM ran which file
  if (process.env.TESTIN_WORKER_LOG) appendFileSync(process.env.TESTIN_WORKER_LOG, `${vm.name} two ${seen}\n`);
});

import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, inject } from 'vitest';
import { defineCoreCases } from '../helpers/core-cases.js';
import { BOOKWORM_BASE, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers } from '../helpers/testin.js';

const skip = inject('e2eSkip');

/** The core cases again, with a toolbox built on the engine from Debian 12 (QEMU 7.2, the C virtiofsd, kernel 6.1). */
describe.skipIf(skip !== '')('a toolbox from debian:bookworm-slim (Debian 12)', () => {
  const env = { TESTIN_TOOLBOX_BASE: BOOKWORM_BASE };
  let kernelRelease = '';

  beforeAll(async () => {
    const built = await execa('node', [TESTIN_BIN, 'toolbox', 'build'], { env });
    kernelRelease = /^\s+modules \S+ \(kernel (\S+)\)$/m.exec(built.stdout)?.[1] as string;
    expect(built.stdout).toMatch(/^\s+base\s+debian:bookworm-slim$/m);
    // Debian 12's kernel series, not Debian 13's
    expect(kernelRelease).toMatch(/^6\.1\.\d+-\d+-amd64$/);
  }, 600_000);

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  // Debian 12's QEMU cannot snapshot: every case boots cold, as its report says
  defineCoreCases({ env, kernelRelease: () => kernelRelease, startedFrom: 'cold', images: 'busybox' });
});

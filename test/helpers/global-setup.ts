import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, ENTRY_IMAGE, ROOT, SCRATCH_IMAGE, TESTIN_BIN } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** why the end-to-end tests cannot run here; '' when they can */
    e2eSkip: string;
  }
}

async function missingPart(): Promise<string> {
  const docker = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false });
  if (docker.exitCode !== 0) return `no Docker engine answers (docker info: ${docker.stderr.split('\n')[0] ?? ''}); start dockerd`;
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'QEMU is missing: apt-get install qemu-system-x86';
  const kernels = await execa('sh', ['-c', 'ls /boot/vmlinuz-*'], { reject: false });
  if (kernels.exitCode !== 0) return 'no kernel in /boot: apt-get install linux-image-amd64';
  return '';
}

/** Checks the real parts, builds testin and the test images once for the whole e2e run. */
export default async function setup(project: TestProject): Promise<void> {
  const missing = await missingPart();
  if (missing) {
    if (process.env.CI === 'true') throw new Error(`end-to-end tests cannot run in CI: ${missing}`);
    console.warn(`\n  skipping the end-to-end tests: ${missing}\n`);
    project.provide('e2eSkip', missing);
    return;
  }
  if (!existsSync(TESTIN_BIN)) await execa('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  await execa(join(ROOT, 'test/fixtures/build-busybox-image.sh'), [BUSYBOX_IMAGE, ENTRY_IMAGE, SCRATCH_IMAGE], { stdio: 'inherit' });
  await execa(join(ROOT, 'test/fixtures/build-debian-image.sh'), [DEBIAN_IMAGE], { stdio: 'inherit' });
  // build the toolbox and fill its volume once, so that no test pays for it
  await execa('node', [TESTIN_BIN, 'toolbox', 'build'], { stdio: 'inherit' });
  project.provide('e2eSkip', '');
}

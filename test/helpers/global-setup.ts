import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { failInCI } from '../../launcher/ci-detect.js';
import { ARM64_IMAGE, BOOKWORM_BASE, BUSYBOX_IMAGE, DEBIAN_IMAGE, ENTRY_IMAGE, ROOT, SCRATCH_IMAGE, TESTIN_BIN, TRIXIE_BASE } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** why the end-to-end tests cannot run here; '' when they can */
    e2eSkip: string;
  }
}

/** testin needs a Docker engine and nothing else on the host; the tests also make their images with these */
async function missingPart(): Promise<string> {
  const docker = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false });
  if (docker.exitCode !== 0) return `no Docker engine answers (docker info: ${docker.stderr.split('\n')[0] ?? ''}); start dockerd`;
  for (const [tool, pkg] of [['debootstrap', 'debootstrap'], ['busybox', 'busybox-static']] as const) {
    if ((await execa('sh', ['-c', `command -v ${tool}`], { reject: false })).exitCode !== 0) return `the tests build their images with ${tool}: apt-get install ${pkg}`;
  }
  return '';
}

/** Checks the real parts, builds testin, the base and test images, and the toolbox once for the whole e2e run. */
export default async function setup(project: TestProject): Promise<void> {
  await prepareLocalEngine(project);
}

/** The local engine's part of the set-up; returns why the e2e tests cannot run here ('' when they can). */
export async function prepareLocalEngine(project: TestProject): Promise<string> {
  const missing = await missingPart();
  if (missing) {
    failInCI(`the end-to-end tests cannot run: ${missing}`);
    console.warn(`\n  skipping the end-to-end tests: ${missing}\n`);
    project.provide('e2eSkip', missing);
    return missing;
  }
  if (!existsSync(TESTIN_BIN)) await execa('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  // the base images users pull from Docker Hub; no registry here, so they are made locally
  await Promise.all([
    execa(join(ROOT, 'test/fixtures/build-debian-base.sh'), ['trixie', TRIXIE_BASE], { stdio: 'inherit' }),
    execa(join(ROOT, 'test/fixtures/build-debian-base.sh'), ['bookworm', BOOKWORM_BASE], { stdio: 'inherit' }),
  ]);
  await execa(join(ROOT, 'test/fixtures/build-busybox-image.sh'), [BUSYBOX_IMAGE, ENTRY_IMAGE, SCRATCH_IMAGE], { stdio: 'inherit' });
  await Promise.all([
    execa(join(ROOT, 'test/fixtures/build-debian-image.sh'), [DEBIAN_IMAGE, BOOKWORM_BASE], { stdio: 'inherit' }),
    execa(join(ROOT, 'test/fixtures/build-arm64-image.sh'), [ARM64_IMAGE, TRIXIE_BASE], { stdio: 'inherit' }),
  ]);
  // build the toolboxes on the engine once, so that no test pays for them: the engine's own, and
  // arm64 images' (side by side: much of a build is waiting on Debian's mirror)
  await Promise.all([
    execa('node', [TESTIN_BIN, 'toolbox', 'build'], { stdio: 'inherit' }),
    execa('node', [TESTIN_BIN, 'toolbox', 'build', '--platform', 'linux/arm64'], { stdio: 'inherit' }),
  ]);
  project.provide('e2eSkip', '');
  return '';
}

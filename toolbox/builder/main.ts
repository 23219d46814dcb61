/**
 * The toolbox builder: runs in a builder container on the engine, from a
 * Debian base image, with the pinned node the launcher put there. Bundled by
 * esbuild into dist/toolbox-builder.js.
 *
 *   build OUT            install Debian's packages, assemble the toolbox into
 *                        OUT/toolbox and the kernel's modules into OUT/modules
 *   prepare-kernel DIR   a user's kernel (DIR/src/kernel, DIR/src/initrd,
 *                        DIR/src/modules) made bootable with testin's init, in
 *                        a helper container that has only the toolbox
 */
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBuildEvent, type BuildEvent } from '../../contract/build-events.js';
import { TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from '../../contract/layout.js';
import { GUEST_ARCH_ENV, archOf } from '../../contract/arch.js';
import { installPackages } from './apt.js';
import { assembleTree } from './assemble-tree.js';
import { BuildFailure } from './build-failure.js';
import { findDebianParts } from './debian-parts.js';
import { prepareKernel } from './prepare-kernel.js';

/** where the launcher puts testin's own files in the builder (see toolbox/engine-build.ts) */
export const OWN_DIR = '/testin-build';

const emit = (event: BuildEvent): void => void process.stdout.write(encodeBuildEvent(event));

async function build(out: string): Promise<void> {
  const env = process.env;
  const work = join(OWN_DIR, 'work');
  mkdirSync(work, { recursive: true });
  // the builder's node is the engine's (the launcher picked it by the engine's architecture); the guest's is the image's
  const host = archOf(process.arch);
  if (!host) throw new BuildFailure('index', `no toolbox for this engine's architecture (${process.arch})`, []);
  const guest = env[GUEST_ARCH_ENV] ? archOf(env[GUEST_ARCH_ENV]) : host;
  if (!guest) throw new BuildFailure('index', `no toolbox for guests of ${env[GUEST_ARCH_ENV]}`, []);
  const arch = { host, guest };
  const apt = await installPackages(work, arch, emit);
  emit({ kind: 'stage', stage: 'assemble', detail: `kernel ${apt.kernelRelease}` });
  const parts = findDebianParts(join(OWN_DIR, 'node'), apt, arch);
  const initDir = join(OWN_DIR, 'initfs');
  const manifest = assembleTree(join(out, 'toolbox'), join(out, 'modules'), {
    parts,
    own: {
      containerInit: join(OWN_DIR, TOOLBOX_LAYOUT.bundle),
      builder: join(OWN_DIR, TOOLBOX_LAYOUT.builderBundle),
      initSources: readdirSync(initDir).filter((f) => /\.[ch]$/.test(f)).sort().map((f) => join(initDir, f)),
    },
    packages: apt.versions,
    testinVersion: env.TESTIN_VERSION ?? '?',
    recipe: env.TESTIN_RECIPE ?? '?',
    base: { image: env.TESTIN_BASE_IMAGE ?? '?', id: env.TESTIN_BASE_ID ?? '?' },
    arch,
  });
  emit({ kind: 'done', manifest });
}

async function main(): Promise<number> {
  const [verb, dir] = process.argv.slice(2);
  try {
    if (verb === 'build' && dir) await build(dir);
    else if (verb === 'prepare-kernel' && dir) {
      // the VM's init: the guest's architecture (the kernel given is of it)
      const agent = readFileSync(join(TOOLBOX_MOUNT, TOOLBOX_LAYOUT.guestAgent));
      process.stdout.write(`${JSON.stringify(prepareKernel(dir, agent, join(TOOLBOX_MOUNT, TOOLBOX_LAYOUT.busybox)))}\n`);
    } else throw new Error(`usage: toolbox-builder build OUT | prepare-kernel DIR (got ${process.argv.slice(2).join(' ')})`);
    return 0;
  } catch (error) {
    const failure = error instanceof BuildFailure ? error : new BuildFailure('assemble', (error as Error).message, ((error as Error).stack ?? '').split('\n').slice(1, 8));
    if (verb === 'build') emit({ kind: 'failed', stage: failure.stage, message: failure.message, tail: failure.tail });
    else process.stderr.write(`${failure.message}\n`);
    return 1;
  }
}

process.exitCode = await main();

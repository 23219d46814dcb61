import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { failInCI } from '../../launcher/ci-detect.js';
import { prepareLocalEngine } from './global-setup.js';
import { startRootlessEngines } from './rootless-engines.js';
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, ROOT, TESTIN_BIN } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** DOCKER_HOST of Debian 13's dockerd, started in a container and reached over TCP; '' when the e2e tests are skipped */
    remoteDocker: string;
    /** DOCKER_HOST of Podman's Docker-compatible socket (`podman system service`); '' when skipped */
    podman: string;
    /** DOCKER_HOST of Debian 13's Podman 5, started in a container and reached over TCP; '' when skipped */
    podman5: string;
    /** DOCKER_HOST of Debian 12's Podman and dockerd, rootless (test/helpers/rootless-engines.ts); '' when skipped */
    rootlessPodman: string;
    rootlessDocker: string;
  }
}

/** the remote engines' containers, their ports on loopback */
export const REMOTE = { name: 'testin-e2e-dockerd-trixie', port: '23750' };
export const REMOTE_PODMAN = { name: 'testin-e2e-podman-trixie', port: '23760' };

/**
 * The engines users run besides the local one: Debian 12's Podman through its
 * socket, Debian 12's Podman and dockerd rootless, and Debian 13's dockerd 26 and
 * Podman 5, each in a container, reached over TCP (they share no file with the client). They get the toolbox and the
 * test images from the local engine (toolbox save/load, docker save/load): no
 * registry, no package mirror needed on their side.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if ((await prepareLocalEngine(project)) !== '') {
    project.provide('remoteDocker', '');
    project.provide('podman', '');
    project.provide('podman5', '');
    project.provide('rootlessPodman', '');
    project.provide('rootlessDocker', '');
    return async () => undefined;
  }
  const podman = await startPodman();
  const rootless = await startRootlessEngines().catch(async (error: unknown) => {
    await podman.stop();
    throw error;
  });
  const teardown = async (): Promise<void> => {
    await rootless.stop();
    for (const engine of [REMOTE, REMOTE_PODMAN]) {
      await execa('docker', ['rm', '-f', engine.name], { reject: false });
      await execa('docker', ['volume', 'rm', `${engine.name}-data`], { reject: false });
    }
    await podman.stop();
  };
  const start = async (kind: string, engine: { name: string; port: string }): Promise<string> =>
    (await execa(join(ROOT, 'test/fixtures/start-engine-trixie.sh'), [kind, engine.name, engine.port], { stderr: 'inherit' })).stdout.trim();
  const work = mkdtempSync(join(tmpdir(), 'testin-e2e-engines-'));
  try {
    const [host, podman5] = await Promise.all([start('dockerd', REMOTE), start('podman', REMOTE_PODMAN)]);
    const file = join(work, 'toolbox.tgz');
    await execa('node', [TESTIN_BIN, 'toolbox', 'save', file]);
    for (const engine of [host, podman.host, podman5, rootless.podman, rootless.docker].filter((e) => e !== '')) {
      await execa('node', [TESTIN_BIN, 'toolbox', 'load', file], { env: { DOCKER_HOST: engine } });
      for (const image of [BUSYBOX_IMAGE, DEBIAN_IMAGE]) await execa('sh', ['-c', `docker save '${image}' | docker -H '${engine}' load -q`]);
    }
    project.provide('remoteDocker', host);
    project.provide('podman', podman.host);
    project.provide('podman5', podman5);
    project.provide('rootlessPodman', rootless.podman);
    project.provide('rootlessDocker', rootless.docker);
  } catch (error) {
    // a set-up that failed half-way leaves no engine running
    await teardown();
    throw error;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return teardown;
}

/** Podman's service on a socket of its own (rootful); .ci/setup installs podman and caps its rlimits (containers.conf) */
async function startPodman(): Promise<{ host: string; stop: () => Promise<void> }> {
  const socket = '/run/testin-e2e-podman.sock';
  if ((await execa('podman', ['--version'], { reject: false })).exitCode !== 0) {
    failInCI('the e2e-engines tests need podman: apt-get install podman');
    throw new Error('podman is missing: apt-get install podman');
  }
  // its objects' locks given again, as for the rootless one (rootless-engines.ts): no Podman of root's runs yet
  await execa('podman', ['system', 'renumber'], { reject: false, stdio: 'ignore' });
  const service = execa('podman', ['system', 'service', '--time=0', `unix://${socket}`], { reject: false, stdio: 'ignore', detached: false });
  const host = `unix://${socket}`;
  for (let i = 0; i < 100; i++) {
    if ((await execa('docker', ['-H', host, 'version'], { reject: false })).exitCode === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    stop: async () => {
      service.kill('SIGTERM');
      await service;
    },
  };
}

import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { failInCI } from '../../launcher/ci-detect.js';
import { prepareLocalEngine } from './global-setup.js';
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, ROOT, TESTIN_BIN } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** DOCKER_HOST of Debian 13's dockerd, started in a container and reached over TCP; '' when the e2e tests are skipped */
    remoteDocker: string;
    /** DOCKER_HOST of Podman's Docker-compatible socket (`podman system service`); '' when skipped */
    podman: string;
  }
}

/** the remote engine's container, its port on loopback */
export const REMOTE = { name: 'testin-e2e-dockerd-trixie', port: '23750' };

/**
 * The engines users run besides the local one: Debian 13's dockerd 26, in a
 * container, reached over TCP (it shares no file with the client). It gets the
 * toolbox and the test images from the local engine (toolbox save/load, docker
 * save/load): no registry, no package mirror needed on its side.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if ((await prepareLocalEngine(project)) !== '') {
    project.provide('remoteDocker', '');
    project.provide('podman', '');
    return async () => undefined;
  }
  const podman = await startPodman();
  const started = await execa(join(ROOT, 'test/fixtures/start-dockerd-trixie.sh'), [REMOTE.name, REMOTE.port], { stderr: 'inherit' });
  const host = started.stdout.trim();
  const work = mkdtempSync(join(tmpdir(), 'testin-e2e-engines-'));
  try {
    const file = join(work, 'toolbox.tgz');
    await execa('node', [TESTIN_BIN, 'toolbox', 'save', file]);
    for (const engine of [host, podman.host]) {
      await execa('node', [TESTIN_BIN, 'toolbox', 'load', file], { env: { DOCKER_HOST: engine } });
      for (const image of [BUSYBOX_IMAGE, DEBIAN_IMAGE]) await execa('sh', ['-c', `docker save '${image}' | docker -H '${engine}' load -q`]);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  project.provide('remoteDocker', host);
  project.provide('podman', podman.host);
  return async () => {
    await execa('docker', ['rm', '-f', REMOTE.name], { reject: false });
    await execa('docker', ['volume', 'rm', `${REMOTE.name}-data`], { reject: false });
    await podman.stop();
  };
}

/** Podman's service on a socket of its own (rootful); .ci/setup installs podman and caps its rlimits (containers.conf) */
async function startPodman(): Promise<{ host: string; stop: () => Promise<void> }> {
  const socket = '/run/testin-e2e-podman.sock';
  if ((await execa('podman', ['--version'], { reject: false })).exitCode !== 0) {
    failInCI('the e2e-engines tests need podman: apt-get install podman');
    throw new Error('podman is missing: apt-get install podman');
  }
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

import { execa, type ResultPromise } from 'execa';
import { mkdirSync, chownSync } from 'node:fs';
import { failInCI } from '../../launcher/ci-detect.js';

/** the user the rootless engines run as; .ci/setup makes it, with subordinate uids and gids */
export const ROOTLESS_USER = 'testin-rootless';

export interface RootlessEngines {
  /** DOCKER_HOST of rootless Podman's service, '' when it did not come up */
  podman: string;
  /** DOCKER_HOST of rootless dockerd (dockerd-rootless.sh), '' when it did not come up */
  docker: string;
  stop: () => Promise<void>;
}

const answers = async (host: string): Promise<boolean> => (await execa('docker', ['-H', host, 'version'], { reject: false })).exitCode === 0;

/**
 * Debian 12's Podman and dockerd, rootless, as the user ROOTLESS_USER would start them
 * (podman system service; dockerd-rootless.sh, with rootlesskit and slirp4netns), each on a
 * socket in that user's runtime folder. Outside CI a machine without that user or those
 * packages gets no rootless engines, and the tests say so; in CI that is a failure.
 */
export async function startRootlessEngines(): Promise<RootlessEngines> {
  const none = { podman: '', docker: '', stop: async () => undefined };
  const id = await execa('id', ['-u', ROOTLESS_USER], { reject: false });
  const tools = await execa('sh', ['-c', 'command -v newuidmap && command -v slirp4netns && command -v rootlesskit && test -x /usr/share/docker.io/contrib/dockerd-rootless.sh'], { reject: false });
  if (id.exitCode !== 0 || tools.exitCode !== 0) {
    const missing = id.exitCode !== 0 ? `no user ${ROOTLESS_USER}` : 'uidmap, slirp4netns, rootlesskit or docker.io missing';
    failInCI(`the rootless engine tests need ${missing}: run .ci/setup (as root)`);
    console.warn(`testin e2e: rootless engines skipped: ${missing} (run .ci/setup as root)`);
    return none;
  }
  const uid = Number(id.stdout.trim());
  const runtime = `/run/user/${uid}`;
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  chownSync(runtime, uid, uid);
  const env = { XDG_RUNTIME_DIR: runtime, HOME: `/home/${ROOTLESS_USER}`, PATH: `/usr/share/docker.io/contrib:/usr/sbin:/usr/bin:/sbin:/bin` };
  const asUser = (argv: string[]): ResultPromise => execa('runuser', ['-u', ROOTLESS_USER, '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv], { cwd: '/', reject: false, stdio: 'ignore' });
  const podman = `unix://${runtime}/podman.sock`;
  const docker = `unix://${runtime}/docker.sock`;
  // a machine whose /run/user survived while /dev/shm did not: Podman finds its state as it was, takes it
  // for the same boot and does not refresh it, and the locks of its volumes are unknown to the new lock
  // file (their removal fails: "freeing lock for volume ...: no such file or directory"); renumber gives
  // each object a lock again. No Podman of that user runs yet; a failure leaves its state as it was
  await asUser(['podman', 'system', 'renumber']);
  const services = [asUser(['podman', 'system', 'service', '--time=0', podman]), asUser(['dockerd-rootless.sh'])];
  const stop = async (): Promise<void> => {
    // the services and what they started (conmon, rootlesskit, containerd, slirp4netns, Podman's pause process)
    await execa('pkill', ['-TERM', '-u', ROOTLESS_USER], { reject: false });
    await Promise.all(services);
    await execa('pkill', ['-KILL', '-u', ROOTLESS_USER], { reject: false });
  };
  const up = { podman: false, docker: false };
  for (let i = 0; i < 150 && !(up.podman && up.docker); i++) {
    up.podman ||= await answers(podman);
    up.docker ||= await answers(docker);
    if (!(up.podman && up.docker)) await new Promise((r) => setTimeout(r, 200));
  }
  if (!up.podman || !up.docker) {
    await stop();
    throw new Error(`rootless ${up.podman ? 'dockerd' : 'Podman'} of ${ROOTLESS_USER} did not answer within 30 s`);
  }
  return { podman, docker, stop };
}

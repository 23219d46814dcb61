import { describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE } from '../helpers/paths.js';
import { defineEngineCases } from '../helpers/engine-cases.js';
import { testin } from '../helpers/testin.js';

/**
 * Debian 12's Podman and dockerd, rootless (test/helpers/rootless-engines.ts): the container
 * around the VM lives in the engine user's namespace, so its root is that user, and passt
 * runs as that root (nobody could not search rootless Podman's 0700 root folder).
 */
const engines = [
  { title: 'rootless Podman 4 (Debian 12\'s, slirp4netns, vfs)', host: inject('rootlessPodman'), version: /Podman 4\.\d+\.\d+ \(API \S+\) local, rootless/ },
  { title: 'rootless dockerd 20 (Debian 12\'s, dockerd-rootless.sh, rootlesskit)', host: inject('rootlessDocker'), version: /Docker 20\.\d+\.\d+\S* \(API \S+\) local, rootless/ },
];

for (const { title, host, version } of engines) describe.skipIf(host === '')(title, () => {
  defineEngineCases({ host: () => host, doctorSays: version, hostDir: '/tmp' });

  it("says what it does differently there: doctor names it, --debug says passt runs as the container's root", async () => {
    const env = { DOCKER_HOST: host };
    expect((await testin(['doctor'], { env })).stdout.toString()).toMatch(/^ok +engine mode +rootless: .*passt runs as the container's root/m);
    const r = await testin(['run', '--debug', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'cat /sys/class/net/eth0/mtu; exit 7'], { env });
    expect([r.exitCode, r.stdout.toString()]).toEqual([7, '65520\n']);
    expect(r.stderr.toString()).toMatch(/passt up after \d+ ms .*passt runs as the container's root/);
  });
});

import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { defineEngineCases } from '../helpers/engine-cases.js';
import { testin } from '../helpers/testin.js';

/**
 * Podman from Debian's packages, rootful, through its Docker-compatible API (`podman system
 * service`): Debian 12's 4.3 on a local socket, and Debian 13's 5.x in a container, over TCP.
 */
const podmans = [
  { title: "Podman 4 (Debian 12's, rootful) through its local socket", host: inject('podman'), version: /Podman 4\.\d+\.\d+ \(API \S+\) local/ },
  { title: "Podman 5 (Debian 13's, rootful, in a container) over TCP", host: inject('podman5'), version: /Podman 5\.\d+\.\d+ \(API \S+\) remote/ },
];

for (const { title, host: podman, version } of podmans) describe.skipIf(podman === '')(title, () => {
  const env = { DOCKER_HOST: podman };

  defineEngineCases({ host: () => podman, doctorSays: version });

  it('doctor names what testin does differently on Podman', async () => {
    const r = await testin(['doctor'], { env });
    expect(r.stdout.toString()).toMatch(/^ok +engine mode +on Podman: the seccomp profile of a passt run is given by path/m);
  });

  it('--no-vm and a run with passt (its seccomp profile by path) give the same codes', async () => {
    const plain = await testin(['run', '--no-vm', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo plain; exit 4'], { env });
    expect([plain.exitCode, plain.stdout.toString()]).toEqual([4, 'plain\n']);
    const passt = await testin(['run', '--net-backend', 'passt', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'cat /sys/class/net/eth0/mtu; exit 6'], { env });
    expect([passt.exitCode, passt.stdout.toString()]).toEqual([6, '65520\n']);
  });

  it('a compose service in a VM on Podman: its output and exit code (slirp: compose cannot hand Podman the profile passt needs)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-podcompose-'));
    const project = `testin-e2e-podman-${process.pid}`;
    try {
      const file = join(dir, 'docker-compose.yml');
      writeFileSync(file, `services:\n  job:\n    image: ${BUSYBOX_IMAGE}\n    command: ["sh", "-c", "echo from-compose; cat /sys/class/net/eth0/mtu; exit 3"]\n`);
      const override = join(dir, 'compose.testin.yml');
      expect((await execa('node', [TESTIN_BIN, 'compose', '-f', file, '--service', 'job', '-o', override], { env })).exitCode).toBe(0);
      const r = await execa('docker-compose', ['-p', project, '-f', file, '-f', override, 'run', '--rm', '-T', 'job'], { env, reject: false });
      expect(r.exitCode).toBe(3);
      expect(r.stdout).toMatch(/^from-compose\n1500$/m);
      await execa('docker-compose', ['-p', project, '-f', file, '-f', override, 'down'], { env, reject: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

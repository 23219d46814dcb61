import { afterEach, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE } from '../helpers/paths.js';
import { leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

/** A `docker run` line turned into a `testin run` line: docker's order and flags, with docker's meaning in the VM. */
describe.skipIf(skip !== '')('docker run habits', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it("takes docker's order: the image first, then the command with its own flags", async () => {
    const r = await testin(['run', '-e', 'A=1', BUSYBOX_IMAGE, 'sh', '-c', 'echo x $A; exit 3', '--memory']);
    expect([r.exitCode, r.stdout.toString()]).toEqual([3, 'x 1\n']);
  });

  it('--cap-drop takes capabilities from the command; without it the command holds them all', async () => {
    const script = 'ip link add d0 type dummy 2>/dev/null && echo added || echo refused; grep -E "^Cap(Eff|Bnd)" /proc/self/status';
    const all = await testin(['run', BUSYBOX_IMAGE, 'sh', '-c', script]);
    expect(all.stdout.toString()).toBe('added\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n');
    const noNet = await testin(['run', '--cap-drop', 'NET_ADMIN', BUSYBOX_IMAGE, 'sh', '-c', script]);
    // NET_ADMIN is capability 12: bit 0x1000 gone from the effective and the bounding sets
    expect(noNet.stdout.toString()).toBe('refused\nCapEff:\t000001ffffffefff\nCapBnd:\t000001ffffffefff\n');
    const none = await testin(['run', '--cap-drop', 'ALL', BUSYBOX_IMAGE, 'grep', '^Cap', '/proc/self/status']);
    expect(none.stdout.toString()).toBe(['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'].map((c) => `${c}:\t0000000000000000\n`).join(''));
    const one = await testin(['run', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', BUSYBOX_IMAGE, 'grep', '^CapEff', '/proc/self/status']);
    expect(one.stdout.toString()).toBe('CapEff:\t0000000000001000\n');
  });

  it('--sysctl, --ulimit, --shm-size, --dns-search, --dns-option, --group-add and no-new-privileges, read back in the VM', async () => {
    const r = await testin([
      'run', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.msgmax=65536', '--ulimit', 'nofile=1024:2048', '--shm-size', '256m',
      '--dns-search', 'example.test', '--dns-option', 'ndots:3', '--group-add', '4242', '--security-opt', 'no-new-privileges', '--init',
      BUSYBOX_IMAGE, 'sh', '-c',
      'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax; ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2; grep NoNewPrivs /proc/self/status; id -G; grep -E "^(search|options)" /etc/resolv.conf',
    ]);
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, '1\n65536\n1024\n2048\n262144\nNoNewPrivs:\t1\n0 4242\nsearch example.test\noptions ndots:3\n']);
  });

  it("a session made with them: up, then exec, then down; each command of it gets them", async () => {
    const name = `testin-e2e-habits-${process.pid}`;
    expect((await testin(['up', '--name', name, '--cap-drop', 'ALL', '--sysctl', 'kernel.msgmax=12345', '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    try {
      const r = await testin(['exec', name, '--', 'sh', '-c', 'grep ^CapEff /proc/self/status; cat /proc/sys/kernel/msgmax']);
      expect([r.exitCode, r.stdout.toString()]).toEqual([0, 'CapEff:\t0000000000000000\n12345\n']);
    } finally {
      expect((await testin(['down', name])).exitCode).toBe(0);
    }
  });

  it('refuses what it cannot do in one line with a fix, 125, nothing left: a sysctl the kernel lacks, a flag testin does not take', async () => {
    const sysctl = await testin(['run', '--sysctl', 'net.no_such_key=1', BUSYBOX_IMAGE, 'echo', 'ran']);
    expect([sysctl.exitCode, sysctl.stdout.toString()]).toEqual([125, '']);
    expect(sysctl.stderr.toString()).toMatch(/^testin: --sysctl net\.no_such_key: no such sysctl in this kernel\n {2}fix: check its name/m);
    const gpus = await testin(['run', '--gpus', 'all', BUSYBOX_IMAGE, 'true']);
    expect([gpus.exitCode, gpus.stderr.toString()]).toEqual([125, expect.stringMatching(/^testin: --gpus: not supported by testin: a VM sees no GPU of the host\n {2}fix: /)]);
    const opt = await testin(['run', '--security-opt', 'seccomp=unconfined', BUSYBOX_IMAGE, 'true']);
    expect([opt.exitCode, opt.stderr.toString()]).toEqual([125, expect.stringMatching(/^testin: --security-opt seccomp=unconfined: not supported by testin: /)]);
  });
});

import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeCpio } from '../../dist/toolbox/cpio.js';
import { BOOKWORM_BASE, BUSYBOX_IMAGE, DEBIAN_IMAGE, KERNEL_CACHE, ROOT } from '../helpers/paths.js';
import { leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

/** Each step prints `ok <name>` only when it worked; the test compares the list. */
const DEBIAN_SCRIPT = `
ip link add d0 type dummy && ip -br link show d0 | grep -q '^d0 ' && echo ok dummy
ip link add v0 type veth peer name v1 && [ "$(ip -br link show type veth | wc -l)" = 2 ] && echo ok veth
truncate -s 32M /tmp/disk.img && mkfs.ext4 -q /tmp/disk.img && mkdir -p /mnt/x && mount -o loop /tmp/disk.img /mnt/x \\
  && echo data > /mnt/x/f && grep -q '^/dev/loop[0-9]* /mnt/x ext4 ' /proc/mounts && echo ok loop-ext4
nft add table inet t && nft add chain inet t c '{ type filter hook input priority 0; }' \\
  && nft add rule inet t c tcp dport 9 drop && nft list ruleset | grep -q 'tcp dport 9 drop' && echo ok nftables
sysctl -qw net.ipv4.ip_forward=1 && [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] && echo ok sysctl
ip netns add ns1 && [ "$(ip netns exec ns1 ip -br link | awk '{print $1}')" = lo ] && echo ok netns
mkdir /sys/fs/cgroup/t && echo $$ > /sys/fs/cgroup/t/cgroup.procs && grep -q '^0::/t$' /proc/self/cgroup && echo ok cgroup
modprobe sctp && lsmod | grep -q '^sctp ' && echo ok modprobe
true`;

describe.skipIf(skip !== '')('a real kernel: modules, mounts, namespaces, cgroups, nftables, sysctls', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-kernel-'));
    await execa('truncate', ['-s', '16M', join(dir, 'made-by-test.ext4')]);
    await execa('mkfs.ext4', ['-q', '-d', join(import.meta.dirname, '..', 'fixtures'), join(dir, 'made-by-test.ext4')]);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('in a Debian image with iproute2, kmod, e2fsprogs and nftables, each works as on a real machine', async () => {
    const r = await testin(['run', '--image', DEBIAN_IMAGE, '--', 'bash', '-c', DEBIAN_SCRIPT]);
    expect(r.stdout.toString().split('\n').filter(Boolean)).toEqual([
      'ok dummy', 'ok veth', 'ok loop-ext4', 'ok nftables', 'ok sysctl', 'ok netns', 'ok cgroup', 'ok modprobe',
    ]);
    expect(r.exitCode).toBe(0);
  });

  describe('a kernel of the user\'s own', () => {
    // Debian 12's kernel (the toolbox has Debian 13's), unpacked from its package in a container
    let release = '';
    let kernel = '';
    let modules = '';
    beforeAll(async () => {
      const fetched = join(KERNEL_CACHE, 'bookworm');
      release = (await execa(join(ROOT, 'test/fixtures/fetch-debian-kernel.sh'), [fetched, BOOKWORM_BASE])).stdout.trim();
      kernel = join(fetched, 'vmlinuz');
      modules = join(fetched, 'root/lib/modules', release);
    });

    it('boots with --kernel and --modules, and loads boot modules listed by an --initrd', async () => {
      const dummy = readFileSync(join(modules, 'kernel/drivers/net/dummy.ko'));
      writeFileSync(join(dir, 'user.cpio'), writeCpio([
        { kind: 'dir', name: 'modules' },
        { kind: 'file', name: 'modules/dummy.ko', data: dummy },
        { kind: 'file', name: 'modules/order.user', data: Buffer.from('dummy.ko\n') },
      ]));
      const r = await testin(['run', '--image', BUSYBOX_IMAGE, '--kernel', kernel, '--modules', modules, '--initrd', join(dir, 'user.cpio'), '--',
        'sh', '-c', 'uname -r; ls /lib/modules; lsmod | grep -o "^dummy"']);
      expect(r.stdout.toString()).toBe(`${release}\n${release}\ndummy\n`);
      expect(r.exitCode).toBe(0);
    });

    it('names the missing drivers when the kernel cannot reach its root', async () => {
      const r = await testin(['run', '--image', BUSYBOX_IMAGE, '--kernel', kernel, '--', 'true']);
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toMatch(/^testin: the VM init failed: the kernel lacks virtio_pci, virtio_console, virtiofs \(and fuse\): .*--modules/m);
    });
  });

  it('in the busybox image (no kmod): modules load on demand, a loop mount works, /lib/modules is read-only', async () => {
    const r = await testin(['run', '--image', BUSYBOX_IMAGE, '-v', `${dir}:/img:ro`, '--', 'sh', '-c', [
      'ip link add d0 type dummy && lsmod | grep -q "^dummy " && echo ok on-demand',
      'mkdir -p /mnt/e && mount -t ext4 -o loop,ro /img/made-by-test.ext4 /mnt/e && test -x /mnt/e/build-busybox-image.sh && echo ok loop',
      'test -f /lib/modules/$(uname -r)/modules.dep && echo ok modules-dir',
      'touch /lib/modules/$(uname -r)/x 2>&1 | grep -q "Read-only file system" && echo ok modules-ro',
    ].join('; ')]);
    expect(r.stdout.toString()).toBe('ok on-demand\nok loop\nok modules-dir\nok modules-ro\n');
  });
});

import { describe, expect, it } from 'vitest';
import type { VmPlan } from '../contract/run-plan.js';
import { buildQemuArgs, kernelCmdline } from './qemu-args.js';
import { buildVirtiofsdArgs, parentsFirst, shareCaches } from './virtiofsd-args.js';

const vm: VmPlan = { cpus: 2, memoryMiB: 768, accel: 'tcg', kernelCmdline: ['foo=1'], console: false, bootTimeoutMs: 1000 };
const paths = {
  kernel: '/testin/boot/kernel',
  initrd: '/testin/boot/initrd.img',
  firmwareDir: '/testin/share/qemu',
  fsSocket: '/run/testin/fs.sock',
  ctlSocket: '/run/testin/ctl.sock',
  consoleLog: '/run/testin/console.log',
};

function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));
}

describe('buildQemuArgs', () => {
  const args = buildQemuArgs(vm, paths);

  it('shares guest memory with virtiofsd and sizes the VM', () => {
    expect(valuesOf(args, '-object')).toContain('memory-backend-memfd,id=mem,size=768M,share=on');
    expect(valuesOf(args, '-machine')).toEqual(['q35,accel=tcg,memory-backend=mem']);
    expect(valuesOf(args, '-smp')).toEqual(['2']);
    expect(valuesOf(args, '-cpu')).toEqual(['max']);
  });

  it("gives the guest's init its NIC's set-up on the kernel's command line (made at boot, before the snapshot), and none without a NIC", () => {
    const append = (a: string[]): string => valuesOf(a, '-append')[0] ?? '';
    expect(append(buildQemuArgs(vm, paths, { nic: true, forwards: [] }, { kind: 'passt', fd: 3 }))).toContain(' testin.net=10.0.2.15/24,10.0.2.2,65520 foo=1');
    expect(append(buildQemuArgs(vm, paths, { nic: true, forwards: [] }))).toContain(' testin.net=10.0.2.15/24,10.0.2.2 foo=1');
    expect(append(args)).not.toContain('testin.net');
  });

  it("a run with a snapshot has its guest's memory as a shared file, which the migration leaves out and the snapshot keeps", () => {
    const withFile = buildQemuArgs(vm, { ...paths, ramFile: '/run/testin/ram/guest.ram' });
    expect(valuesOf(withFile, '-object')).toEqual(['memory-backend-file,id=mem,size=768M,mem-path=/run/testin/ram/guest.ram,share=on']);
  });

  it('wires the virtiofs root, the control port and a console file, never stdio', () => {
    expect(valuesOf(args, '-device')).toContain('vhost-user-fs-pci,chardev=fs0,tag=root,queue-size=1024');
    expect(valuesOf(args, '-device')).toContain('virtserialport,bus=vser0.0,chardev=ctl,name=testin.ctl');
    expect(valuesOf(args, '-chardev')).toContain('file,id=con,path=/run/testin/console.log');
    expect(args.join(' ')).not.toMatch(/stdio|-nographic/);
    expect(args).toContain('-no-reboot');
  });

  it('adds a second share, tag vol, only when the volumes have a virtiofsd of their own', () => {
    expect(valuesOf(args, '-device').filter((d) => d.startsWith('vhost-user-fs-pci'))).toHaveLength(1);
    const two = buildQemuArgs(vm, { ...paths, volSocket: '/run/testin/fs-vol.sock' });
    expect(valuesOf(two, '-device')).toContain('vhost-user-fs-pci,chardev=fs1,tag=vol,queue-size=1024');
    expect(valuesOf(two, '-chardev')).toContain('socket,id=fs1,path=/run/testin/fs-vol.sock');
  });

  it('uses the host CPU under KVM', () => {
    expect(valuesOf(buildQemuArgs({ ...vm, accel: 'kvm' }, paths), '-cpu')).toEqual(['host']);
  });
});

describe('kernelCmdline', () => {
  it('is quiet, panics into a reboot, and puts user words last', () => {
    expect(kernelCmdline(vm)).toEqual(['console=ttyS0', 'panic=-1', 'cryptomgr.notests', 'quiet', 'loglevel=4', 'systemd.getty_auto=0', 'systemd.show_status=1', 'foo=1']);
    expect(kernelCmdline({ ...vm, console: true, kernelCmdline: [] })).toEqual(['console=ttyS0', 'panic=-1', 'cryptomgr.notests', 'systemd.getty_auto=0', 'systemd.show_status=1']);
    // the NIC's set-up, for the init to make at boot: before the user's words
    expect(kernelCmdline(vm, undefined, '10.0.2.15/24 10.0.2.2 65520').slice(-2)).toEqual(['testin.net=10.0.2.15/24,10.0.2.2,65520', 'foo=1']);
  });
});

describe('buildVirtiofsdArgs', () => {
  it('speaks both virtiofsd dialects', () => {
    expect(buildVirtiofsdArgs('c', '/s', '/r', 'never')).toEqual(expect.arrayContaining(['--socket-path=/s', 'source=/r', 'cache=none', 'sandbox=chroot']));
    expect(buildVirtiofsdArgs('rust', '/s', '/r', 'never')).toEqual(expect.arrayContaining(['--socket-path=/s', '--shared-dir=/r', '--cache=never', '--sandbox=chroot']));
  });
});

describe('shareCaches', () => {
  it('caches the image root hard and gives the volumes --fs-cache from a second daemon', () => {
    expect(shareCaches('auto', true)).toEqual({ root: 'always', volumes: 'auto' });
    expect(shareCaches('auto', false)).toEqual({ root: 'always' });
  });
  it('needs one daemon for always and never', () => {
    expect(shareCaches('always', true)).toEqual({ root: 'always' });
    expect(shareCaches('never', true)).toEqual({ root: 'never' });
  });
});

describe('parentsFirst', () => {
  it('orders mount targets so that a parent is bound before what is inside it', () => {
    const order = parentsFirst([{ target: '/data/sub/deep' }, { target: '/b' }, { target: '/data' }, { target: '/data/sub' }, { target: '/a' }]).map((m) => m.target);
    expect(order).toEqual(['/a', '/b', '/data', '/data/sub', '/data/sub/deep']);
  });
});

import { ARCHES, type ArchFacts } from '../contract/arch.js';
import type { Accel, Forward, VmPlan } from '../contract/run-plan.js';
import { buildNetdevArgs, guestNetSpec, type Netdev } from './guest-network.js';

/** the VM as QEMU starts it: the plan's, with the accelerator container-init decided */
export type BootVm = Omit<VmPlan, 'accel'> & { accel: Accel };

export interface QemuPaths {
  /** an ELF vmlinux (booted through its PVH entry) or a bzImage: QEMU's -kernel takes both */
  kernel: string;
  initrd: string;
  firmwareDir: string;
  /** virtiofsd's socket for the image's root (tag "root") */
  fsSocket: string;
  /** a second virtiofsd's socket, for the user's volumes (tag "vol") */
  volSocket?: string | undefined;
  ctlSocket: string;
  consoleLog: string;
  /** the guest's memory as a file on a tmpfs (a run that saves or restores a snapshot: ram-image.ts); else a memfd */
  ramFile?: string | undefined;
}

/**
 * testin's own kernel command line; the user's words come after, so they win.
 * `net`: the NIC's set-up every run of this VM gets (guestNetSpec), which the
 * guest's init makes at boot, before the snapshot, rather than on each run.
 */
export function kernelCmdline(vm: Pick<VmPlan, 'console' | 'kernelCmdline'>, guest: ArchFacts = ARCHES.amd64, net?: string): string[] {
  return [
    `console=${guest.qemu.console}`,
    // a panic reboots at once, and -no-reboot turns that into QEMU exiting: a panic never hangs the run
    'panic=-1',
    // the crypto self-tests run at every boot: 0.2 s of a 1.65 s boot under TCG; `cryptomgr.notests=0` brings them back
    'cryptomgr.notests',
    // the console file holds the kernel's errors and worse (levels 0-3, none on a good boot), which a failed run shows:
    // an RCU stall of a boot that lost a CPU's timer is seen, and the boot started again (vm-run.ts)
    ...(vm.console ? [] : ['quiet', 'loglevel=4']),
    // --boot: no login prompt on the console, which is a log nobody types into (and, in an image
    // without udev, whose /dev/ttyS0 device unit would hold the boot for 90 s); testin's init ignores it
    'systemd.getty_auto=0',
    // --boot: systemd's unit lines ("[  OK  ] Started ...") on the console, which `testin logs` shows
    // as docker logs shows a systemd container's; `quiet` alone would keep all but failures off it
    'systemd.show_status=1',
    ...(net ? [`testin.net=${net.replaceAll(' ', ',')}`] : []),
    ...vm.kernelCmdline,
  ];
}

/** The QEMU command line (after the binary) for one run. */
export function buildQemuArgs(
  vm: BootVm,
  paths: QemuPaths,
  network: { nic: boolean; forwards: readonly Forward[] } = { nic: false, forwards: [] },
  backend: Netdev = { kind: 'slirp' },
  guest: ArchFacts = ARCHES.amd64,
): string[] {
  const mem = `${vm.memoryMiB}M`;
  return [
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-no-reboot',
    '-machine', `${guest.qemu.machine},accel=${vm.accel},memory-backend=mem`,
    '-cpu', vm.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(vm.cpus),
    '-m', mem,
    // vhost-user-fs needs guest memory that virtiofsd can map
    '-object', paths.ramFile ? `memory-backend-file,id=mem,size=${mem},mem-path=${paths.ramFile},share=on` : `memory-backend-memfd,id=mem,size=${mem},share=on`,
    '-L', paths.firmwareDir,
    '-kernel', paths.kernel,
    '-initrd', paths.initrd,
    '-append', kernelCmdline(vm, guest, network.nic ? guestNetSpec(backend.kind) : undefined).join(' '),
    '-chardev', `socket,id=fs0,path=${paths.fsSocket}`,
    '-device', 'vhost-user-fs-pci,chardev=fs0,tag=root,queue-size=1024',
    ...(paths.volSocket ? ['-chardev', `socket,id=fs1,path=${paths.volSocket}`, '-device', 'vhost-user-fs-pci,chardev=fs1,tag=vol,queue-size=1024'] : []),
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `socket,id=ctl,path=${paths.ctlSocket}`,
    '-device', 'virtserialport,bus=vser0.0,chardev=ctl,name=testin.ctl',
    '-chardev', `file,id=con,path=${paths.consoleLog}`,
    '-serial', 'chardev:con',
    ...(network.nic ? buildNetdevArgs(network.forwards, backend) : []),
  ];
}

/** QEMU's monitor on a socket (for a snapshot's save or restore) and, to restore one, a guest that waits for it */
export function qemuControlArgs(control: { qmpSocket: string; incoming: boolean }): string[] {
  return ['-qmp', `unix:${control.qmpSocket},server=on,wait=off`, ...(control.incoming ? ['-incoming', 'defer'] : [])];
}

/**
 * The VMM behind one small interface: QEMU is its implementation. Another VMM
 * (cloud-hypervisor, where a binary and KVM exist) is a module of its own that
 * starts the same guest from the same spec.
 */
import { join } from 'node:path';
import { TOOLBOX_LAYOUT, toolboxExec } from '../contract/layout.js';
import type { Forward } from '../contract/run-plan.js';
import { startHelper, type Helper } from './child-process.js';
import type { Netdev } from './guest-network.js';
import { buildQemuArgs, qemuControlArgs, type BootVm } from './qemu-args.js';

/** What a guest is booted with: the VM, its kernel and initrd, the sockets of its helpers, its NIC. */
export interface GuestSpec {
  vm: BootVm;
  kernel: string;
  initrd: string;
  /** virtiofsd's socket for the image's root (tag "root"), and the volumes' one (tag "vol") */
  fsSocket: string;
  volSocket?: string | undefined;
  /** the control port's socket, where container-init listens */
  ctlSocket: string;
  consoleLog: string;
  network: { nic: boolean; forwards: readonly Forward[] };
  netdev: Netdev;
}

/** QEMU's monitor, for a snapshot to be saved or restored; and whether it waits for one to be loaded */
export interface VmmControl {
  qmpSocket: string;
  incoming: boolean;
}

export interface Vmm {
  readonly name: string;
  /** the VMM's arguments for this guest, without the monitor: what a snapshot of it depends on */
  argv(spec: GuestSpec): string[];
  /** starts the VMM process; its end is the guest's end */
  start(spec: GuestSpec, control?: VmmControl): { helper: Helper; argv: string[] };
}

/** QEMU from the toolbox: its own loader, its TCG module, its firmware. */
export function qemuVmm(toolbox: string): Vmm {
  const tb = (p: string): string => join(toolbox, p);
  return {
    name: 'QEMU',
    argv(spec) {
      return buildQemuArgs(spec.vm, {
        kernel: spec.kernel,
        initrd: spec.initrd,
        firmwareDir: tb(TOOLBOX_LAYOUT.firmware),
        fsSocket: spec.fsSocket,
        volSocket: spec.volSocket,
        ctlSocket: spec.ctlSocket,
        consoleLog: spec.consoleLog,
      }, spec.network, spec.netdev);
    },
    start(spec, control) {
      const args = [...this.argv(spec), ...(control ? qemuControlArgs(control) : [])];
      const argv = [...toolboxExec(TOOLBOX_LAYOUT.qemu, toolbox), ...args];
      return { helper: startHelper('qemu', argv, { ...process.env, QEMU_MODULE_DIR: tb(TOOLBOX_LAYOUT.qemuModules) }), argv: args };
    },
  };
}

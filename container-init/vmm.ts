/**
 * The VMM behind one small interface: QEMU (qemu-vmm.ts) is its implementation.
 * Another VMM (cloud-hypervisor, where a binary and KVM exist) is one module of
 * its own that starts the same guest from the same spec, saves and restores it,
 * and says in its own words how it ended.
 */
import type { Socket } from 'node:net';
import type { Arch } from '../contract/arch.js';
import type { Forward } from '../contract/run-plan.js';
import type { Helper } from './child-process.js';
import type { Netdev } from './guest-network.js';
import type { BootVm } from './qemu-args.js';
import type { HeldVmm } from './held-vmm.js';

/** What a guest is booted with: the VM, its kernel and initrd, the sockets of its helpers, its NIC. */
export interface GuestSpec {
  vm: BootVm;
  /** the guest's architecture (the toolbox's: contract/arch.ts) */
  arch: Arch;
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
  /** the guest's memory as a file on a tmpfs, which a snapshot keeps beside the VMM's state (ram-image.ts) */
  ramFile?: string | undefined;
}

export interface VmmStartOptions {
  /** the VMM takes save and restore requests (a snapshot is saved or restored this run) */
  control: boolean;
  /** the guest does not boot: it waits to be restored */
  incoming: boolean;
  /** where the VMM may keep its sockets */
  work: string;
  /** a socket the VMM gets as its fd 3 (its end of the socket pair to passt: GuestSpec.netdev) */
  fd3?: Socket | undefined;
  /** the VMM PID 1 started with the container, waiting for its argv (held-vmm.ts): it runs in the place of a new one */
  held?: HeldVmm | undefined;
}

/** how a VMM process ended */
export interface VmmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A snapshot file that the VMM read and refused (bad header, wrong devices, cut short): the snapshot is damaged. */
export class SnapshotLoadError extends Error {
  override readonly name = 'SnapshotLoadError';
}

/** One running VMM: the guest's life, and what can be asked of it. */
export interface VmmInstance {
  /** its arguments, for --debug */
  readonly argv: readonly string[];
  /** resolves when the VMM process has ended: the guest's end */
  readonly exited: Promise<VmmExit>;
  /** the process, for the teardown (TERM, then KILL) */
  readonly helper: Helper;
  /** stops the guest hard, now */
  kill(): void;
  /** "QEMU exited with code 1: <its last line>": how it ended, in its own words */
  describeExit(exit: VmmExit): string;
  /** stops the guest, writes its state to `file` (its RAM left out: `whileStopped` keeps it), lets it go on */
  /** saves the VM's state while the guest stands still; resolves with the wall time (ms) at which it stood still */
  save(file: string, whileStopped: () => Promise<void>): Promise<number>;
  /** loads `file` into a VMM started with `incoming`, once its RAM is `ramReady`, and lets the guest run; SnapshotLoadError when the file or the RAM does not load */
  restore(file: string, ramReady: Promise<void>): Promise<RestoreTimes>;
  /** the guest's run state as the VMM sees it ('running', 'paused', 'guest-panicked', ...); undefined when it does not answer */
  runState(): Promise<string | undefined>;
  /** lets go of the VMM's control channel */
  close(): void;
}

export interface Vmm {
  readonly name: string;
  /** the VMM's arguments for this guest, without its control channel: what a snapshot of it depends on */
  argv(spec: GuestSpec): string[];
  start(spec: GuestSpec, options: VmmStartOptions): VmmInstance;
}

/** a restore's parts (ms): the VMM's monitor answering, the snapshot loaded, the guest let go on */
export interface RestoreTimes {
  monitorMs: number;
  /** waiting for the RAM's image after the monitor answered (it is written beside QEMU's start) */
  ramMs: number;
  loadMs: number;
  resumeMs: number;
  /** the wall time `cont` went to the VMM: the restored guest's clock runs on from there */
  resumedAt: number;
}

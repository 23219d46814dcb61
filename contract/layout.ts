/**
 * Where things are: container-init's work folder (/run/testin) and the toolbox
 * tree in it (/run/testin/toolbox, in the container and in the VM). Shared by
 * the toolbox builder, the launcher, container-init and (by hand, in
 * initfs/init.h) the VM's init. Everything testin puts in a container is under
 * /run, which the VM mounts afresh: the image's root is shown as it is (an
 * image's own /testin too).
 */

/**
 * container-init's work folder in the container: the plan, sockets, the console
 * log, the timeline, staged mounts. A folder of the container's own layer (not a
 * tmpfs), so the plan can be put there before the container starts and the
 * timeline read after it stopped. The VM never sees it: its /run is a tmpfs.
 */
export const WORK_DIR = '/run/testin';
/** the toolbox volume, read-only; container-init binds it at the same path in the VM (for modprobe) */
export const TOOLBOX_MOUNT = `${WORK_DIR}/toolbox`;
/** the run plan, put into the container before it starts (compose: TESTIN_PLAN instead) */
export const PLAN_FILE = `${WORK_DIR}/plan.json`;
/** the VM's steps, written by container-init at the end, read by the launcher before it removes the container */
export const TIMELINE_FILE = `${WORK_DIR}/timeline.json`;
/** what the guest kernel printed on its console */
export const CONSOLE_LOG = `${WORK_DIR}/console.log`;
/** a session's socket: one connection per command */
export const SESSION_SOCKET = `${WORK_DIR}/session.sock`;
/** the user's binds and volumes, each at <n> before container-init moves it to its target */
export const VOLUME_STAGING = `${WORK_DIR}/volumes`;
/** the kernel modules' volume, staged there (shown in the VM at /lib/modules/<release>) */
export const MODULES_STAGING = `${WORK_DIR}/modules`;
/** a user's kernel (--kernel), prepared in a volume of its own */
export const KERNEL_STAGING = `${WORK_DIR}/kernel`;
/** where container-init listens for the client's lease on the run (container-init/client-lease.ts) */
export const LEASE_SOCKET = `${WORK_DIR}/lease.sock`;
/** the snapshots volume (one per toolbox, read-write): booted VMs saved to be restored (container-init/snapshot.ts) */
export const SNAPSHOT_DIR = `${WORK_DIR}/snapshots`;
/** the snapshots volume of a toolbox */
export function snapshotVolumeName(toolboxHash: string): string {
  return `testin-snapshots-${toolboxHash.slice(0, 16)}`;
}
/** the folder container-init shares with the VM as its root */
export const NEW_ROOT = `${WORK_DIR}/new_root`;

export const TOOLBOX_LAYOUT = {
  manifest: 'manifest.json',
  /** written last when a toolbox volume is filled: a volume without it is incomplete */
  complete: '.complete',
  kernel: 'boot/kernel',
  initrd: 'boot/initrd.img',
  /** the host's dynamic loader (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1), run by path: its name is the toolbox's */
  loader: 'lib/ld.so',
  lib: 'lib',
  qemuModules: 'lib/qemu',
  /** preloaded into QEMU by the container's PID 1, which holds it loaded until container-init gives its argv (initfs/vmm-hold.c) */
  vmmHold: 'lib/testin-vmm-hold.so',
  /** preloaded into passt: its zero-filled data on huge pages (initfs/huge-bss.c) */
  hugeBss: 'lib/testin-huge-bss.so',
  firmware: 'share/qemu',
  node: 'bin/node',
  /** QEMU for the guest's architecture (qemu-system-x86_64, qemu-system-aarch64) */
  qemu: 'bin/qemu-system',
  virtiofsd: 'bin/virtiofsd',
  busybox: 'bin/busybox',
  /** present when the toolbox's Debian has passt */
  passt: 'bin/passt',
  containerInit: 'bin/container-init',
  /** the VM's init, run as `testin-agent --agent` in the container for --no-vm; the container's PID 1 (--init) and lease (--lease): of the host's architecture */
  agent: 'bin/testin-agent',
  /** the VM's init as the guest runs it (the boot initrd's): of the guest's architecture; a link to the agent when that is the host's */
  guestAgent: 'boot/testin-agent',
  /** a static modprobe (busybox) for images without kmod, so the kernel can load modules on demand */
  modprobe: 'sbin/modprobe',
  bundle: 'container-init.js',
  /** the toolbox builder's bundle: prepares a user's kernel in a helper container too */
  builderBundle: 'toolbox-builder.js',
  /** the seccomp profile of a run with passt (contract/seccomp-profile.ts), for engines that take a profile by path (Podman) */
  seccomp: 'share/testin/seccomp.json',
} as const;

export const CONTAINER_INIT_PATH = `${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.containerInit}`;

/**
 * The container's entrypoint. Static busybox runs it in any image (no libc
 * needed); it starts the toolbox's node through the toolbox's own loader.
 */
export const CONTAINER_INIT_SCRIPT = `#!${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.busybox} sh
exec ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.loader} --library-path ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.lib} \\
  ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.node} ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.bundle} "$@"
`;

/** argv prefix that runs a toolbox binary through the toolbox's loader */
export function toolboxExec(binary: string, root: string = TOOLBOX_MOUNT, preload?: string): string[] {
  return [`${root}/${TOOLBOX_LAYOUT.loader}`, '--library-path', `${root}/${TOOLBOX_LAYOUT.lib}`, ...(preload ? ['--preload', `${root}/${preload}`] : []), `${root}/${binary}`];
}

/** a user's kernel volume (mounted at KERNEL_STAGING): what the launcher puts there, and what the toolbox's prepare-kernel makes of it */
export const KERNEL_VOLUME = {
  /** the files as given: kernel, initrd (optional), meta.json, modules/ (optional: its /lib/modules/<release>) */
  source: 'src',
  kernel: 'kernel',
  initrd: 'initrd.img',
  meta: 'meta.json',
  modules: 'modules',
  complete: '.complete',
} as const;

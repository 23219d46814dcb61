/** Where things are inside /testin: shared by the builder and container-init. */
export const TOOLBOX_MOUNT = '/testin';

/** container-init's work folder in the container, a tmpfs: sockets, the console log, staged mounts */
export const WORK_DIR = '/run/testin';
/** the kernel modules' volume, staged there (shown in the VM at /lib/modules/<release>) */
export const MODULES_STAGING = `${WORK_DIR}/modules`;

export const TOOLBOX_LAYOUT = {
  manifest: 'manifest.json',
  complete: '.complete',
  kernel: 'boot/kernel',
  initrd: 'boot/initrd.img',
  loader: 'lib/ld-linux-x86-64.so.2',
  lib: 'lib',
  qemuModules: 'lib/qemu',
  firmware: 'share/qemu',
  node: 'bin/node',
  qemu: 'bin/qemu-system-x86_64',
  virtiofsd: 'bin/virtiofsd',
  busybox: 'bin/busybox',
  /** present when the host had passt */
  passt: 'bin/passt',
  containerInit: 'bin/container-init',
  /** the VM's init, run as `testin-agent --agent` in the container for --no-vm */
  agent: 'bin/testin-agent',
  /** a static modprobe (busybox) for images without kmod, so the kernel can load modules on demand */
  modprobe: 'sbin/modprobe',
  bundle: 'container-init.js',
} as const;

/** the toolbox was built where passt was installed: it carries passt */
export function hasPasst(manifest: ToolboxManifest): boolean {
  return manifest.files.some((f) => f.path === TOOLBOX_LAYOUT.passt);
}

export interface ToolboxManifest {
  testin: string;
  hash: string;
  kernelRelease: string;
  /** 'elf': a vmlinux booted through the PVH entry; 'bzImage': booted through the firmware */
  kernelFormat: 'elf' | 'bzImage';
  virtiofsdFlavor: 'c' | 'rust';
  /** the kernel's modules: not in the toolbox volume but in a volume of their own, which changes only with the kernel */
  modules: { release: string; hostDir: string; volumeName: string };
  versions: Record<string, string>;
  files: { path: string; sha256: string; size: number; mode: number; source: string; package?: string | undefined }[];
}

/**
 * The container's entrypoint. Static busybox runs it in any image (no libc
 * needed); it starts the toolbox's node through the toolbox's own loader.
 */
export const CONTAINER_INIT_SCRIPT = `#!${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.busybox} sh
exec ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.loader} --library-path ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.lib} \\
  ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.node} ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.bundle} "$@"
`;

/** argv prefix that runs a toolbox binary through the toolbox's loader */
export function toolboxExec(binary: string, root: string = TOOLBOX_MOUNT): string[] {
  return [`${root}/${TOOLBOX_LAYOUT.loader}`, '--library-path', `${root}/${TOOLBOX_LAYOUT.lib}`, `${root}/${binary}`];
}

import type { AccelChoice, FsCache, NetBackendChoice } from '../contract/run-plan.js';

export type { AccelChoice, NetBackendChoice };

/** Options of `run()`, the library form of `testin run`. Each mirrors a CLI flag. */
export interface RunOptions {
  /** image to take the root filesystem from (must be in the local engine) */
  image: string;
  /** command and arguments; when absent, the image's ENTRYPOINT + CMD run, as with docker */
  command?: readonly string[] | undefined;
  /** overrides the image's ENTRYPOINT (and drops its CMD), as `docker run --entrypoint` */
  entrypoint?: string | undefined;
  /** `-e K=V` or `-e K` (value taken from the caller's environment) */
  env?: readonly string[] | undefined;
  /** files of K=V lines, as `--env-file` */
  envFiles?: readonly string[] | undefined;
  /** working directory in the VM; @default the image's WorkingDir, else / */
  workdir?: string | undefined;
  /** uid[:gid] or name[:group]; @default the image's User, else root */
  user?: string | undefined;
  hostname?: string | undefined;
  /** keep stdin open and stream it to the command; @default false */
  interactive?: boolean | undefined;
  /** run the command on a pty (stdout and stderr merge, as with docker -t); @default false */
  tty?: boolean | undefined;
  /** @default 2 */
  cpus?: number | undefined;
  /** VM memory, docker units (512m, 2g); @default 1g */
  memory?: string | undefined;
  /** @default 'auto': KVM where the CPU has vmx/svm and /dev/kvm opens, else TCG */
  accel?: AccelChoice | undefined;
  /**
   * the Debian image the toolbox is built from, on the engine, when it has none for this testin yet
   * @default TESTIN_TOOLBOX_BASE, else 'debian:trixie-slim' (Debian 13; 'debian:bookworm-slim' works too)
   */
  toolboxBase?: string | undefined;
  /** boot this kernel (a bzImage or vmlinux file of this client) instead of the toolbox's */
  kernel?: string | undefined;
  /** an initrd whose files are added after testin's own (the kernel unpacks both) */
  initrd?: string | undefined;
  /** /lib/modules/<release> of --kernel: its boot drivers go into the initrd, the whole tree to /lib/modules in the VM */
  modules?: string | undefined;
  /** extra kernel command line */
  kernelCmdline?: string | undefined;
  /** stream the guest kernel log to stderr; @default false */
  console?: boolean | undefined;
  /** make the image's root read-only in the VM; @default false */
  readOnly?: boolean | undefined;
  /** virtiofs cache policy for the root; @default 'auto' */
  fsCache?: FsCache | undefined;
  /** `-v SRC:DST[:ro]`, `-v NAME:DST`, `-v DST` */
  volumes?: readonly string[] | undefined;
  /** `--mount type=bind|volume|tmpfs,...` */
  mounts?: readonly string[] | undefined;
  /** `--tmpfs DST[:opts]` */
  tmpfs?: readonly string[] | undefined;
  /** seconds the command gets to end after SIGTERM/SIGINT before the VM is stopped hard; @default 10 */
  stopTimeout?: number | undefined;
  /** ms the VM may take to boot (to its init's hello) before the run fails with 125; @default 120 000 */
  bootTimeout?: number | undefined;
  /** stop the command this many ms after it started (SIGTERM, then the hard stop); the result has exit code 124. The boot does not count: it has its own deadline */
  timeout?: number | undefined;
  /** run the same plan in the container, without a VM (for comparison, or where a container is enough); @default false */
  noVm?: boolean | undefined;
  /**
   * restore the VM from a snapshot of it booted (made by the first run of each VM shape, kept in a
   * volume per toolbox) instead of booting its kernel; false boots cold; @default true, unless TESTIN_SNAPSHOT=0
   */
  snapshot?: boolean | undefined;
  /**
   * boot the image's own init (true: /sbin/init, or a path) as PID 1 after testin's set-up, testin's
   * agent serving beside it; a command runs once `systemctl is-system-running --wait` says running or
   * degraded, then the system is powered off; without a command the run lasts until the system powers off
   */
  boot?: string | boolean | undefined;
  /**
   * what carries the VM's packets into the container's network: passt (faster, see README) or QEMU's
   * user networking (slirp); @default 'auto': passt when the toolbox has it (its Debian release packages passt), else slirp
   */
  netBackend?: NetBackendChoice | undefined;
  /** docker network: a network name, bridge, host, none or container:NAME; @default docker's (bridge) */
  network?: string | undefined;
  /** `-p [IP:][HOSTPORT:]PORT[/proto]`: publish a port of the VM on the host */
  publish?: readonly string[] | undefined;
  /** `--expose PORT[/proto]`: forward a port into the VM without publishing it */
  expose?: readonly string[] | undefined;
  /** `-P`: publish every exposed port on a port docker picks */
  publishAll?: boolean | undefined;
  /** `--add-host NAME:IP` entries for /etc/hosts */
  addHost?: readonly string[] | undefined;
  /** container name; @default docker's generated name */
  name?: string | undefined;
  /** pino level for testin's own diagnostics on stderr; @default 'warn' */
  logLevel?: string | undefined;
  /** `--cap-add`: the command holds every capability already; after `--cap-drop ALL` these are the ones it keeps */
  capAdd?: readonly string[] | undefined;
  /** `--cap-drop`: capabilities taken out of the command's bounding, permitted, effective and inheritable sets (ALL: every one) */
  capDrop?: readonly string[] | undefined;
  /** `--privileged`: every capability (the default in the VM); --cap-drop is then ignored, as docker ignores it */
  privileged?: boolean | undefined;
  /** `--security-opt`: no-new-privileges[:true|false] is honoured; the VM is the sandbox, other options are refused */
  securityOpt?: readonly string[] | undefined;
  /** `--sysctl KEY=VALUE`, written in the VM before the command (network ones in the VM's own network namespace) */
  sysctls?: readonly string[] | undefined;
  /** `--ulimit NAME=SOFT[:HARD]` on the command */
  ulimits?: readonly string[] | undefined;
  /** `--shm-size`: /dev/shm's size in the VM (docker units); @default the kernel's (half the VM's memory) */
  shmSize?: string | undefined;
  /** `--group-add`: more supplementary groups for the command, by name or number */
  groupAdd?: readonly string[] | undefined;
  /** `--dns`, `--dns-search`, `--dns-option`: the container's resolver, which the VM's asks (its resolv.conf keeps search and options) */
  dns?: readonly string[] | undefined;
  dnsSearch?: readonly string[] | undefined;
  dnsOption?: readonly string[] | undefined;
}

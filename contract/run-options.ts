/**
 * The options of a run in one typed table: the library's RunOptions, the CLI's
 * flags (launcher/flags.ts makes yargs' table of it), the value lists, and the
 * TESTIN_* variables container-init reads where no launcher planned the run
 * (compose files written by hand). Vitest's typed cli-config is the model.
 */
import { PlanError } from './errors.js';
import type { AccelChoice, FsCache, NetBackendChoice } from './run-plan.js';

export type { AccelChoice, NetBackendChoice };
export type PullPolicy = 'missing' | 'always' | 'never';

/** Options of `run()`, the library form of `testin run`. Each mirrors a CLI flag. */
export interface RunOptions {
  /** image to take the root filesystem from (pulled by the engine when it lacks it, see pull) */
  image: string;
  /** when the engine pulls the image: 'missing' (it lacks it), 'always', 'never'; @default 'missing', as docker */
  pull?: PullPolicy | undefined;
  /**
   * docker's --platform: `linux/arm64` or `linux/amd64`, the architecture of the VM (and of the
   * image pulled); @default the image's own architecture. A local image of another one is refused.
   */
  platform?: string | undefined;
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
  /** docker's --domainname: the NIS domain name, set in the VM's kernel (kernel.domainname) */
  domainname?: string | undefined;
  /** keep stdin open and stream it to the command; @default false */
  interactive?: boolean | undefined;
  /** run the command on a pty (stdout and stderr merge, as with docker -t); @default false */
  tty?: boolean | undefined;
  /** @default 2 */
  cpus?: number | undefined;
  /** VM memory, docker units (512m, 2g); @default 1g */
  memory?: string | undefined;
  /** docker's --memory-swap (memory and swap together, -1 unlimited): checked as docker checks it; the VM has no swap, so its command never has more than --memory */
  memorySwap?: string | undefined;
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
  /** `--volumes-from CONTAINER[:ro|rw]`: the binds and volumes of another container, at its paths (ro/rw: all of them so) */
  volumesFrom?: readonly string[] | undefined;
  /** `--tmpfs DST[:opts]` */
  tmpfs?: readonly string[] | undefined;
  /** the signal a stop (docker stop, SIGTERM to testin, --timeout) sends the command first, by name or number; @default SIGTERM (Ctrl-C sends SIGINT) */
  stopSignal?: string | undefined;
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
  /**
   * `--rm=false`: the container stays once the command has run, exited with its code, for docker cp,
   * docker logs and docker inspect, as docker's does without --rm (no later run reaps it: docker rm does);
   * @default false: it is removed, as with docker run --rm
   */
  keep?: boolean | undefined;
  /** `--label KEY=VALUE` (or KEY, empty) on the VM's container, as docker's; the `testin.` keys are testin's own */
  labels?: readonly string[] | undefined;
  /** files of KEY=VALUE lines, as `--label-file` (--label wins over them) */
  labelFiles?: readonly string[] | undefined;
  /** `--cidfile`: the container's ID is written to this file once it is created (a file that exists is refused, as docker does) */
  cidfile?: string | undefined;
  /** `--link NAME[:ALIAS]`: docker's legacy link, a line of the VM's /etc/hosts (the container's) */
  links?: readonly string[] | undefined;
  /** `--network-alias`: more names for the container on its (user-defined) --network */
  networkAliases?: readonly string[] | undefined;
  /** `--ip`, `--ip6`: the container's address on its (user-defined) --network, which peers reach the VM at */
  ip?: string | undefined;
  ip6?: string | undefined;
  /** `-q`: no pull output */
  quiet?: boolean | undefined;
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
  /** `--pids-limit N`: at most N processes and threads for the command and what it starts (a cgroup of the VM's, as docker's container's); 0 or -1: no limit */
  pidsLimit?: number | undefined;
  /** `--group-add`: more supplementary groups for the command, by name or number */
  groupAdd?: readonly string[] | undefined;
  /** `--device PATH`: a device of the VM's own kernel (/dev/fuse, /dev/net/tun, /dev/loopN...) there for the command */
  devices?: readonly string[] | undefined;
  /** `--dns`, `--dns-search`, `--dns-option`: the container's resolver, which the VM's asks (its resolv.conf keeps search and options) */
  dns?: readonly string[] | undefined;
  dnsSearch?: readonly string[] | undefined;
  dnsOption?: readonly string[] | undefined;
}

export const ACCEL_CHOICES = ['auto', 'kvm', 'tcg'] as const satisfies readonly AccelChoice[];
export const FS_CACHE_CHOICES = ['auto', 'always', 'never'] as const satisfies readonly FsCache[];
export const NET_BACKEND_CHOICES = ['auto', 'passt', 'slirp'] as const satisfies readonly NetBackendChoice[];
export const PULL_CHOICES = ['missing', 'always', 'never'] as const satisfies readonly PullPolicy[];

export type OptionGroup = 'Container:' | 'Network:' | 'Security:' | 'VM:' | 'Output:';

/** How a flag's text becomes the option's value; the kind must fit the option's type. */
type KindFor<V> = [V] extends [boolean]
  ? 'boolean'
  : [V] extends [number]
    ? 'number' | 'duration'
    : [V] extends [readonly string[]]
      ? 'strings'
      : [V] extends [string]
        ? 'string'
        : 'string' | 'boolean';

interface OptionSpecOf<V> {
  /** the CLI flag (docker's name where docker has one) */
  flag: string;
  alias?: string;
  kind: KindFor<V>;
  /** the only values it takes */
  choices?: readonly ([V] extends [string] ? V : string)[];
  /** the flag is the option's negation (--vm / noVm) */
  negated?: true;
  group: OptionGroup;
  describe: string;
  /** the variable container-init reads for it where no launcher planned the run (compose files written by hand) */
  env?: `TESTIN_${string}`;
  /** what that variable holds, for the README, where it differs from the flag */
  envDescribe?: string;
}

/** options that are not flags: the command comes after the image or -- */
type NotAFlag = 'command';
export type RunOptionTable = { [K in Exclude<keyof RunOptions, NotAFlag>]-?: OptionSpecOf<NonNullable<RunOptions[K]>> };

/** Every option of a run: its flag, its help, its value list, its TESTIN_* variable. */
export const RUN_OPTIONS = {
  image: { flag: 'image', kind: 'string', group: 'Container:', describe: 'image that gives the root filesystem (docker\'s order: testin run [FLAGS] IMAGE [CMD...] works too)' },
  platform: { flag: 'platform', kind: 'string', group: 'Container:', describe: "the image's platform, linux/amd64 or linux/arm64 (default: the image's own): the VM is of its architecture, emulated by QEMU when it is not the engine's" },
  pull: { flag: 'pull', kind: 'string', choices: PULL_CHOICES, group: 'Container:', describe: 'pull the image from its registry: missing (default: when the engine lacks it), always, never' },
  entrypoint: { flag: 'entrypoint', kind: 'string', group: 'Container:', describe: "override the image's ENTRYPOINT" },
  env: { flag: 'env', alias: 'e', kind: 'strings', group: 'Container:', describe: 'set NAME=VALUE, or pass NAME from this environment' },
  envFiles: { flag: 'env-file', kind: 'strings', group: 'Container:', describe: 'read NAME=VALUE lines from a file' },
  volumes: { flag: 'volume', alias: 'v', kind: 'strings', group: 'Container:', describe: 'bind a host path or a volume: SRC:DST[:ro]' },
  mounts: { flag: 'mount', kind: 'strings', group: 'Container:', describe: 'type=bind|volume|tmpfs,source=..,target=..[,readonly]' },
  volumesFrom: { flag: 'volumes-from', kind: 'strings', group: 'Container:', describe: "mount another container's binds and volumes at its paths: CONTAINER[:ro|rw]" },
  tmpfs: { flag: 'tmpfs', kind: 'strings', group: 'Container:', describe: 'a tmpfs in the VM: DST[:size=64m,...]' },
  workdir: { flag: 'workdir', alias: 'w', kind: 'string', group: 'Container:', describe: 'working directory of the command' },
  user: {
    flag: 'user',
    alias: 'u',
    kind: 'string',
    group: 'Container:',
    describe: 'uid[:gid] or name[:group] from the image',
    env: 'TESTIN_USER',
    envDescribe: "the user the command runs as (compose's `user:` moves here: container-init itself must be root)",
  },
  groupAdd: { flag: 'group-add', kind: 'strings', group: 'Container:', describe: 'more groups for the command: a name of the image or a gid' },
  devices: { flag: 'device', kind: 'strings', group: 'Container:', describe: "a device of the VM's own kernel, made there for the command: /dev/fuse, /dev/net/tun, /dev/loop-control, /dev/loopN... (a host's device cannot be)" },
  hostname: { flag: 'hostname', alias: 'h', kind: 'string', group: 'Container:', describe: 'hostname inside the VM' },
  domainname: { flag: 'domainname', kind: 'string', group: 'Container:', describe: "NIS domain name inside the VM (the kernel's domainname)" },
  interactive: { flag: 'interactive', alias: 'i', kind: 'boolean', group: 'Container:', describe: 'stream stdin to the command', env: 'TESTIN_STDIN', envDescribe: '1: stream stdin to the command (on with a tty)' },
  tty: { flag: 'tty', alias: 't', kind: 'boolean', group: 'Container:', describe: 'run the command on a pseudo-terminal' },
  name: { flag: 'name', kind: 'string', group: 'Container:', describe: 'name of the container' },
  keep: { flag: 'rm', kind: 'boolean', negated: true, group: 'Container:', describe: 'remove the container at the end (default); --rm=false keeps it, exited, for docker cp, logs and inspect' },
  labels: { flag: 'label', alias: 'l', kind: 'strings', group: 'Container:', describe: 'a label on the container: KEY=VALUE (or KEY)' },
  labelFiles: { flag: 'label-file', kind: 'strings', group: 'Container:', describe: 'read KEY=VALUE label lines from a file' },
  cidfile: { flag: 'cidfile', kind: 'string', group: 'Container:', describe: "write the container's ID to this file (which must not exist)" },
  quiet: { flag: 'quiet', alias: 'q', kind: 'boolean', group: 'Container:', describe: 'no pull output' },
  readOnly: { flag: 'read-only', kind: 'boolean', group: 'Container:', describe: "mount the image's root read-only in the VM", env: 'TESTIN_READ_ONLY', envDescribe: "1: the image's root is read-only in the VM" },
  shmSize: { flag: 'shm-size', kind: 'string', group: 'Container:', describe: "size of the VM's /dev/shm (64m, 1g)" },
  pidsLimit: { flag: 'pids-limit', kind: 'number', group: 'Container:', describe: "at most N processes and threads for the command and its own (-1: no limit), in a cgroup of the VM's as docker's container's" },
  stopSignal: { flag: 'stop-signal', kind: 'string', group: 'Container:', describe: 'the signal docker stop, Ctrl-C and --timeout send the command first (default SIGTERM; Ctrl-C sends SIGINT)' },
  stopTimeout: {
    flag: 'stop-timeout',
    kind: 'number',
    group: 'Container:',
    describe: 'seconds the command gets after its stop signal before the VM is stopped hard (default 10)',
    env: 'TESTIN_STOP_TIMEOUT',
  },
  timeout: { flag: 'timeout', kind: 'duration', group: 'Container:', describe: 'stop the command this long after it started (30s, 5m, 1h); exit code 124' },
  network: { flag: 'network', alias: 'net', kind: 'string', group: 'Network:', describe: 'docker network: NAME, bridge, host, none', env: 'TESTIN_NETWORK', envDescribe: 'none: no NIC in the VM' },
  publish: { flag: 'publish', alias: 'p', kind: 'strings', group: 'Network:', describe: 'publish a port of the VM: [IP:][HOSTPORT:]PORT[/tcp|udp]' },
  expose: {
    flag: 'expose',
    kind: 'strings',
    group: 'Network:',
    describe: 'forward PORT[/proto] into the VM without publishing it',
    env: 'TESTIN_FORWARD',
    envDescribe: 'ports forwarded into the VM, e.g. "8080/tcp 53/udp" (compose ports and expose)',
  },
  publishAll: { flag: 'publish-all', alias: 'P', kind: 'boolean', group: 'Network:', describe: 'publish every exposed port on a port docker picks' },
  netBackend: {
    flag: 'net-backend',
    kind: 'string',
    choices: NET_BACKEND_CHOICES,
    group: 'Network:',
    describe: "who carries the VM's packets: passt (faster) or QEMU's slirp (default auto: passt when installed)",
    env: 'TESTIN_NET_BACKEND',
    envDescribe: 'passt or slirp (a hand-written file: default slirp; passt needs the seccomp profile `testin compose` writes)',
  },
  links: { flag: 'link', kind: 'strings', group: 'Network:', describe: "docker's legacy link to another container: NAME[:ALIAS] (a line of /etc/hosts)" },
  networkAliases: { flag: 'network-alias', kind: 'strings', group: 'Network:', describe: 'another name of the container on its --network (a user-defined one)' },
  ip: { flag: 'ip', kind: 'string', group: 'Network:', describe: "the container's IPv4 address on its --network (a user-defined one with a subnet)" },
  ip6: { flag: 'ip6', kind: 'string', group: 'Network:', describe: "the container's IPv6 address on its --network (a user-defined one with an IPv6 subnet)" },
  addHost: { flag: 'add-host', kind: 'strings', group: 'Network:', describe: 'add NAME:IP to /etc/hosts' },
  dns: { flag: 'dns', kind: 'strings', group: 'Network:', describe: "a DNS server for the container, which the VM's resolver asks" },
  dnsSearch: { flag: 'dns-search', kind: 'strings', group: 'Network:', describe: "a DNS search domain (in the VM's resolv.conf)" },
  dnsOption: { flag: 'dns-option', kind: 'strings', group: 'Network:', describe: "a resolver option (in the VM's resolv.conf)" },
  capAdd: { flag: 'cap-add', kind: 'strings', group: 'Security:', describe: 'the command holds every capability already; after --cap-drop ALL, keep these' },
  capDrop: { flag: 'cap-drop', kind: 'strings', group: 'Security:', describe: 'take capabilities from the command in the VM (ALL: every one)' },
  privileged: { flag: 'privileged', kind: 'boolean', group: 'Security:', describe: 'every capability for the command (the default in the VM: it is root of its own machine)' },
  securityOpt: { flag: 'security-opt', kind: 'strings', group: 'Security:', describe: 'no-new-privileges (others: the VM is the sandbox)' },
  sysctls: { flag: 'sysctl', kind: 'strings', group: 'Security:', describe: 'set a sysctl in the VM before the command: KEY=VALUE' },
  ulimits: { flag: 'ulimit', kind: 'strings', group: 'Security:', describe: "the command's rlimit: NAME=SOFT[:HARD]" },
  noVm: { flag: 'vm', kind: 'boolean', negated: true, group: 'VM:', describe: 'run in a VM; --no-vm runs the same plan in the container, for comparison' },
  boot: {
    flag: 'boot',
    kind: 'string',
    group: 'VM:',
    describe: "boot the image's own init (/sbin/init, or --boot=PATH) as PID 1; a command runs once its system is up, then it powers off; none: until it powers off",
    env: 'TESTIN_BOOT',
    envDescribe: "the image's init to boot as PID 1 (its path, e.g. /sbin/init); the container's command runs once the system is up (none when the command is that init)",
  },
  bootTimeout: { flag: 'boot-timeout', kind: 'duration', group: 'VM:', describe: 'how long the VM may take to boot before the run fails (default 120s)' },
  snapshot: { flag: 'snapshot', kind: 'boolean', group: 'VM:', describe: 'restore a booted VM from its snapshot instead of booting (default; TESTIN_SNAPSHOT=0 turns it off); --no-snapshot boots cold' },
  cpus: { flag: 'cpus', kind: 'number', group: 'VM:', describe: 'virtual CPUs (default 2)', env: 'TESTIN_CPUS' },
  memory: { flag: 'memory', alias: 'm', kind: 'string', group: 'VM:', describe: 'VM memory, e.g. 512m, 2g (default 1g)', env: 'TESTIN_MEMORY' },
  memorySwap: { flag: 'memory-swap', kind: 'string', group: 'VM:', describe: "docker's memory plus swap (-1: unlimited): taken, the VM has no swap: its command has --memory" },
  accel: { flag: 'accel', kind: 'string', choices: ACCEL_CHOICES, group: 'VM:', describe: 'accelerator (default auto: KVM when usable)', env: 'TESTIN_ACCEL' },
  kernel: { flag: 'kernel', kind: 'string', group: 'VM:', describe: "boot this kernel (bzImage or vmlinux) instead of the toolbox's" },
  initrd: { flag: 'initrd', kind: 'string', group: 'VM:', describe: "an initrd added after testin's own" },
  modules: { flag: 'modules', kind: 'string', group: 'VM:', describe: 'the /lib/modules/<release> folder of --kernel' },
  kernelCmdline: { flag: 'kernel-cmdline', kind: 'string', group: 'VM:', describe: 'extra kernel command line', env: 'TESTIN_KERNEL_CMDLINE' },
  console: { flag: 'console', kind: 'boolean', group: 'VM:', describe: 'stream the guest kernel log to stderr', env: 'TESTIN_CONSOLE' },
  fsCache: { flag: 'fs-cache', kind: 'string', choices: FS_CACHE_CHOICES, group: 'VM:', describe: 'virtiofs cache policy (default auto)', env: 'TESTIN_FS_CACHE' },
  toolboxBase: { flag: 'toolbox-base', kind: 'string', group: 'VM:', describe: 'Debian image the toolbox is built from on the engine (default TESTIN_TOOLBOX_BASE, else debian:trixie-slim)' },
  logLevel: { flag: 'log-level', kind: 'string', group: 'Output:', describe: "testin's own diagnostics (trace..fatal; default warn)", env: 'TESTIN_LOG_LEVEL', envDescribe: "container-init's diagnostics (debug shows the boot)" },
} as const satisfies RunOptionTable;

/** The TESTIN_* variables container-init reads, with what each holds (the README lists them: a unit test compares). */
export function runOptionVariables(): { name: string; describe: string; key: keyof RunOptionTable }[] {
  return Object.entries(RUN_OPTIONS as RunOptionTable).flatMap(([key, spec]) =>
    spec.env ? [{ name: spec.env, describe: spec.envDescribe ?? spec.describe, key: key as keyof RunOptionTable }] : [],
  );
}

/**
 * The run options the TESTIN_* variables of an environment give (an empty one is not set), each
 * read by its kind: booleans 1/0 (true/false), numbers, a value list checked, lists split on
 * spaces or commas. Bad values throw PlanError naming the variable.
 */
export function optionsFromVariables(env: Readonly<Record<string, string | undefined>>): Partial<RunOptions> {
  const options: Record<string, unknown> = {};
  for (const { name, key } of runOptionVariables()) {
    const text = env[name];
    if (!text) continue;
    const spec = (RUN_OPTIONS as RunOptionTable)[key];
    const bad = (what: string): PlanError => new PlanError(`${name}=${text} ${what}`);
    if (spec.kind === 'boolean') {
      if (!/^(1|0|true|false)$/i.test(text)) throw bad('is not 1 or 0');
      options[key] = /^(1|true)$/i.test(text);
    } else if (spec.kind === 'number') {
      const n = Number(text);
      if (!Number.isFinite(n) || n < 0) throw bad('is not a number');
      options[key] = n;
    } else if (spec.kind === 'strings') {
      options[key] = text.split(/[\s,]+/).filter(Boolean);
    } else {
      if (spec.choices && !(spec.choices as readonly string[]).includes(text)) throw bad(`is not one of ${spec.choices.join(', ')}`);
      options[key] = text;
    }
  }
  return options as Partial<RunOptions>;
}

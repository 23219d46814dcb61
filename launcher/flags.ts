import type { Options } from 'yargs';

/** `--report FILE` of run and exec */
export const REPORT_FLAG = { type: 'string', describe: 'write a JSON report of the run to FILE at its end, success or failure (default TESTIN_REPORT)' } as const satisfies Options;

/** Every flag of `testin run`, in one table that also feeds --help. */
export const RUN_FLAGS = {
  image: { type: 'string', describe: 'image that gives the root filesystem (on the engine)', group: 'Container:' },
  env: { alias: 'e', type: 'string', array: true, describe: 'set NAME=VALUE, or pass NAME from this environment', group: 'Container:' },
  volume: { alias: 'v', type: 'string', array: true, describe: 'bind a host path or a volume: SRC:DST[:ro]', group: 'Container:' },
  mount: { type: 'string', array: true, describe: 'type=bind|volume|tmpfs,source=..,target=..[,readonly]', group: 'Container:' },
  tmpfs: { type: 'string', array: true, describe: 'a tmpfs in the VM: DST[:size=64m,...]', group: 'Container:' },
  'env-file': { type: 'string', array: true, describe: 'read NAME=VALUE lines from a file', group: 'Container:' },
  workdir: { alias: 'w', type: 'string', describe: 'working directory of the command', group: 'Container:' },
  user: { alias: 'u', type: 'string', describe: 'uid[:gid] or name[:group] from the image', group: 'Container:' },
  hostname: { type: 'string', describe: 'hostname inside the VM', group: 'Container:' },
  entrypoint: { type: 'string', describe: "override the image's ENTRYPOINT", group: 'Container:' },
  interactive: { alias: 'i', type: 'boolean', describe: 'stream stdin to the command', group: 'Container:' },
  network: { alias: 'net', type: 'string', describe: 'docker network: NAME, bridge, host, none', group: 'Network:' },
  publish: { alias: 'p', type: 'string', array: true, describe: 'publish a port of the VM: [IP:][HOSTPORT:]PORT[/tcp|udp]', group: 'Network:' },
  expose: { type: 'string', array: true, describe: 'forward PORT[/proto] into the VM without publishing it', group: 'Network:' },
  'publish-all': { alias: 'P', type: 'boolean', describe: 'publish every exposed port on a port docker picks', group: 'Network:' },
  'net-backend': { type: 'string', choices: ['auto', 'passt', 'slirp'], describe: "who carries the VM's packets: passt (faster) or QEMU's slirp (default auto: passt when installed)", group: 'Network:' },
  'add-host': { type: 'string', array: true, describe: 'add NAME:IP to /etc/hosts', group: 'Network:' },
  tty: { alias: 't', type: 'boolean', describe: 'run the command on a pseudo-terminal', group: 'Container:' },
  name: { type: 'string', describe: 'name of the container', group: 'Container:' },
  rm: { type: 'boolean', default: true, describe: 'remove the container at the end (always on)', group: 'Container:' },
  'read-only': { type: 'boolean', describe: "mount the image's root read-only in the VM", group: 'Container:' },
  'stop-timeout': { type: 'number', describe: 'seconds the command gets after SIGTERM/Ctrl-C before the VM is stopped hard (default 10)', group: 'Container:' },
  timeout: { type: 'string', describe: 'stop the command this long after it started (30s, 5m, 1h); exit code 124', group: 'Container:' },
  'boot-timeout': { type: 'string', describe: 'how long the VM may take to boot before the run fails (default 120s)', group: 'VM:' },
  vm: { type: 'boolean', default: true, describe: 'run in a VM; --no-vm runs the same plan in the container, for comparison', group: 'VM:' },
  boot: { type: 'string', describe: "boot the image's own init (/sbin/init, or --boot=PATH) as PID 1; a command runs once its system is up, then it powers off; none: until it powers off", group: 'VM:' },
  snapshot: { type: 'boolean', describe: "restore a booted VM from its snapshot instead of booting (default; TESTIN_SNAPSHOT=0 turns it off); --no-snapshot boots cold", group: 'VM:' },
  cpus: { type: 'number', describe: 'virtual CPUs (default 2)', group: 'VM:' },
  memory: { alias: 'm', type: 'string', describe: 'VM memory, e.g. 512m, 2g (default 1g)', group: 'VM:' },
  accel: { type: 'string', choices: ['auto', 'kvm', 'tcg'], describe: 'accelerator (default auto: KVM when usable)', group: 'VM:' },
  kernel: { type: 'string', describe: "boot this kernel (bzImage or vmlinux) instead of the toolbox's", group: 'VM:' },
  'toolbox-base': { type: 'string', describe: 'Debian image the toolbox is built from on the engine (default TESTIN_TOOLBOX_BASE, else debian:trixie-slim)', group: 'VM:' },
  initrd: { type: 'string', describe: "an initrd added after testin's own", group: 'VM:' },
  modules: { type: 'string', describe: 'the /lib/modules/<release> folder of --kernel', group: 'VM:' },
  'kernel-cmdline': { type: 'string', describe: 'extra kernel command line', group: 'VM:' },
  console: { type: 'boolean', describe: 'stream the guest kernel log to stderr', group: 'VM:' },
  'fs-cache': { type: 'string', choices: ['auto', 'always', 'never'], describe: 'virtiofs cache policy (default auto)', group: 'VM:' },
  'log-level': { type: 'string', default: 'warn', describe: "testin's own diagnostics (trace..fatal)", group: 'Output:' },
  'log-format': { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'format of the diagnostics', group: 'Output:' },
  debug: { type: 'boolean', describe: 'debug logs and stack traces', group: 'Output:' },
  'cap-add': { type: 'string', array: true, describe: 'the command holds every capability already; after --cap-drop ALL, keep these', group: 'Security:' },
  'cap-drop': { type: 'string', array: true, describe: "take capabilities from the command in the VM (ALL: every one)", group: 'Security:' },
  privileged: { type: 'boolean', describe: 'every capability for the command (the default in the VM: it is root of its own machine)', group: 'Security:' },
  'security-opt': { type: 'string', array: true, describe: 'no-new-privileges (others: the VM is the sandbox)', group: 'Security:' },
  sysctl: { type: 'string', array: true, describe: 'set a sysctl in the VM before the command: KEY=VALUE', group: 'Security:' },
  ulimit: { type: 'string', array: true, describe: "the command's rlimit: NAME=SOFT[:HARD]", group: 'Security:' },
  'shm-size': { type: 'string', describe: "size of the VM's /dev/shm (64m, 1g)", group: 'Container:' },
  'group-add': { type: 'string', array: true, describe: 'more groups for the command: a name of the image or a gid', group: 'Container:' },
  init: { type: 'boolean', describe: "accepted: the VM's own init reaps and forwards signals already", group: 'Container:' },
  dns: { type: 'string', array: true, describe: "a DNS server for the container, which the VM's resolver asks", group: 'Network:' },
  'dns-search': { type: 'string', array: true, describe: "a DNS search domain (in the VM's resolv.conf)", group: 'Network:' },
  'dns-option': { type: 'string', array: true, describe: "a resolver option (in the VM's resolv.conf)", group: 'Network:' },
} as const satisfies Record<string, Options>;

/** docker run's flags testin does not take, and why: an unknown one of these gets its reason, not yargs' "Unknown argument" */
const NOT_SUPPORTED: Record<string, string> = {
  detach: 'the VM runs in the foreground (a detached run is not built yet)',
  d: 'the VM runs in the foreground (a detached run is not built yet)',
  pull: 'testin runs images the engine has (docker pull IMAGE first)',
  platform: 'the VM runs the engine\'s architecture only (for now)',
  gpus: 'a VM sees no GPU of the host',
  device: "a host device cannot be handed into the VM's kernel",
  pid: "the VM has its own kernel: a namespace of the host's cannot be shared",
  ipc: "the VM has its own kernel: a namespace of the host's cannot be shared",
  uts: "the VM has its own kernel: a namespace of the host's cannot be shared",
  userns: "the VM has its own kernel: a namespace of the host's cannot be shared",
  cgroupns: "the VM has its own kernel and cgroups",
  runtime: 'testin chooses the container around the VM itself',
  restart: 'a run ends with its command (use testin up for a VM that stays)',
  'memory-swap': 'the VM has its memory (--memory) and no swap of the host',
  'cpuset-cpus': 'the VM has its --cpus',
  'cpu-shares': 'the VM has its --cpus',
  'oom-kill-disable': "the VM's kernel has its own OOM killer",
  'health-cmd': 'no health checks in a run',
  'log-driver': 'testin relays the output itself',
  attach: 'testin attaches to stdout and stderr always (-i for stdin)',
  a: 'testin attaches to stdout and stderr always (-i for stdin)',
};

/** "not supported by testin: WHY" for a docker flag testin does not take; undefined for a flag docker lacks too */
export function notSupported(flag: string): string | undefined {
  const why = NOT_SUPPORTED[flag.replace(/^-+/, '')];
  return why && `${flag.length === 1 ? '-' : '--'}${flag.replace(/^-+/, '')}: not supported by testin: ${why}`;
}

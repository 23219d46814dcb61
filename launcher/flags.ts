import type { Options } from 'yargs';

/** Every flag of `testin run`, in one table that also feeds --help. */
export const RUN_FLAGS = {
  image: { type: 'string', describe: 'image that gives the root filesystem (from the local docker engine)', group: 'Container:' },
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
  name: { type: 'string', describe: 'name of the container', group: 'Container:' },
  rm: { type: 'boolean', default: true, describe: 'remove the container at the end (always on)', group: 'Container:' },
  'read-only': { type: 'boolean', describe: "mount the image's root read-only in the VM", group: 'Container:' },
  cpus: { type: 'number', describe: 'virtual CPUs (default 2)', group: 'VM:' },
  memory: { alias: 'm', type: 'string', describe: 'VM memory, e.g. 512m, 2g (default 1g)', group: 'VM:' },
  accel: { type: 'string', choices: ['auto', 'kvm', 'tcg'], describe: 'accelerator (default auto: KVM when usable)', group: 'VM:' },
  'kernel-cmdline': { type: 'string', describe: 'extra kernel command line', group: 'VM:' },
  console: { type: 'boolean', describe: 'stream the guest kernel log to stderr', group: 'VM:' },
  'fs-cache': { type: 'string', choices: ['auto', 'always', 'never'], describe: 'virtiofs cache policy (default auto)', group: 'VM:' },
  'log-level': { type: 'string', default: 'warn', describe: "testin's own diagnostics (trace..fatal)", group: 'Output:' },
  'log-format': { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'format of the diagnostics', group: 'Output:' },
  debug: { type: 'boolean', describe: 'debug logs and stack traces', group: 'Output:' },
} as const satisfies Record<string, Options>;

import { UsageError } from '../../contract/errors.js';
import type { RUN_FLAGS } from '../flags.js';
import { parseDuration } from '../parse-duration.js';
import type { RunOptions } from '../run-options.js';

export type ParsedRun = { [K in keyof typeof RUN_FLAGS]?: unknown } & { _: (string | number)[] };

/** `testin run` (and `up`) flags as the options run() and start() take. */
export function toRunOptions(parsed: ParsedRun, command: string[] | undefined): RunOptions {
  const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
  const extra = parsed._.slice(1);
  if (extra.length) throw new UsageError(`unexpected argument "${String(extra[0])}"`, 'put the command after --, e.g. testin run --image IMG -- ls -l');
  const debug = parsed.debug === true;
  return {
    image: str(parsed.image) ?? '',
    command,
    entrypoint: str(parsed.entrypoint),
    env: parsed.env as string[] | undefined,
    envFiles: parsed['env-file'] as string[] | undefined,
    volumes: parsed.volume as string[] | undefined,
    mounts: parsed.mount as string[] | undefined,
    tmpfs: parsed.tmpfs as string[] | undefined,
    workdir: str(parsed.workdir),
    user: str(parsed.user),
    hostname: str(parsed.hostname),
    interactive: parsed.interactive as boolean | undefined,
    tty: parsed.tty as boolean | undefined,
    noVm: parsed.vm === false,
    snapshot: parsed.snapshot as boolean | undefined,
    boot: parsed.boot as string | undefined,
    network: str(parsed.network),
    publish: parsed.publish as string[] | undefined,
    expose: parsed.expose as string[] | undefined,
    publishAll: parsed['publish-all'] as boolean | undefined,
    addHost: parsed['add-host'] as string[] | undefined,
    name: str(parsed.name),
    stopTimeout: parsed['stop-timeout'] as number | undefined,
    timeout: parsed.timeout === undefined ? undefined : parseDuration(String(parsed.timeout), '--timeout'),
    bootTimeout: parsed['boot-timeout'] === undefined ? undefined : parseDuration(String(parsed['boot-timeout']), '--boot-timeout'),
    readOnly: parsed['read-only'] as boolean | undefined,
    cpus: parsed.cpus as number | undefined,
    memory: str(parsed.memory),
    accel: parsed.accel as RunOptions['accel'],
    kernelCmdline: str(parsed['kernel-cmdline']),
    kernel: str(parsed.kernel),
    initrd: str(parsed.initrd),
    modules: str(parsed.modules),
    console: parsed.console as boolean | undefined,
    fsCache: parsed['fs-cache'] as RunOptions['fsCache'],
    netBackend: parsed['net-backend'] as RunOptions['netBackend'],
    toolboxBase: str(parsed['toolbox-base']),
    logLevel: debug ? 'debug' : str(parsed['log-level']),
    capAdd: parsed['cap-add'] as string[] | undefined,
    capDrop: parsed['cap-drop'] as string[] | undefined,
    privileged: parsed.privileged as boolean | undefined,
    securityOpt: parsed['security-opt'] as string[] | undefined,
    sysctls: parsed.sysctl as string[] | undefined,
    ulimits: parsed.ulimit as string[] | undefined,
    shmSize: str(parsed['shm-size']),
    groupAdd: parsed['group-add'] as string[] | undefined,
    dns: parsed.dns as string[] | undefined,
    dnsSearch: parsed['dns-search'] as string[] | undefined,
    dnsOption: parsed['dns-option'] as string[] | undefined,
  };
}

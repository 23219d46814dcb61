import type { Options } from 'yargs';
import { UsageError } from '../contract/errors.js';
import { RUN_OPTIONS, type RunOptionTable } from '../contract/run-options.js';

/** `--report FILE` of run and exec */
export const REPORT_FLAG = { type: 'string', describe: 'write a JSON report of the run to FILE at its end, success or failure (default TESTIN_REPORT)' } as const satisfies Options;

/** yargs' form of one option of the table */
function yargsOption(spec: RunOptionTable[keyof RunOptionTable]): Options {
  const { alias, kind, choices, group, describe } = spec;
  return {
    ...(alias ? { alias } : {}),
    ...(choices ? { choices: [...choices] } : {}),
    ...(spec.negated ? { default: true } : {}),
    // a number flag is read as a word and made a number here: a word that is not one stays the word
    // (yargs' own number type would make it NaN), so the refusal names what was typed
    type: kind === 'boolean' ? 'boolean' : 'string',
    ...(kind === 'number' ? { coerce: (v: unknown) => (v === undefined || Number.isNaN(Number(v)) ? v : Number(v)) } : {}),
    ...(kind === 'strings' ? { array: true } : {}),
    group,
    describe,
  };
}

/** flags of `testin run` that are the CLI's own, not options of a run */
const CLI_FLAGS = {
  detach: { alias: 'd', type: 'boolean', describe: "start the VM, print its container's name and return; docker logs, wait and stop work on it (testin ls lists it)", group: 'Container:' },
  init: { type: 'boolean', describe: "accepted: the VM's own init reaps and forwards signals already", group: 'Container:' },
  'disable-content-trust': { type: 'boolean', describe: "accepted: no image signature is checked (docker's default)", group: 'Container:' },
  'no-healthcheck': { type: 'boolean', describe: 'accepted: a run has no health checks', group: 'Container:' },
  'log-format': { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'format of the diagnostics', group: 'Output:' },
  debug: { type: 'boolean', describe: 'debug logs and stack traces', group: 'Output:' },
} as const satisfies Record<string, Options>;

/**
 * docker run's flags testin takes at docker's own default only (`--restart no`, `--ipc private` in a
 * script or a generated command line: what testin does already); any other value is refused, and why
 */
const DEFAULT_ONLY: Record<string, { value: string | boolean; why: string }> = {
  restart: { value: 'no', why: 'a run ends with its command (use testin up for a VM that stays)' },
  ipc: { value: 'private', why: "the VM has its own kernel: a namespace of the host's or another container's cannot be shared" },
  cgroupns: { value: 'private', why: 'the VM has its own kernel and cgroups' },
  'sig-proxy': { value: true, why: 'testin gives the command the signals it gets, always' },
  'oom-kill-disable': { value: false, why: "the VM's kernel has its own OOM killer" },
};

function defaultOnly({ value }: { value: string | boolean }): Options {
  return { type: typeof value === 'boolean' ? 'boolean' : 'string', hidden: true };
}

/** Refuses a flag of DEFAULT_ONLY given another value than docker's default, with the reason (yargs' own coerce errors come out as its YError) */
export function refuseNonDefaults(args: Readonly<Record<string, unknown>>): void {
  for (const [flag, { value, why }] of Object.entries(DEFAULT_ONLY)) {
    const given = args[flag];
    if (given === undefined || given === value) continue;
    const fix = typeof value === 'boolean' ? `--${flag}=${String(value)}` : `--${flag} ${value}`;
    throw new UsageError(`--${flag} ${String(given)}: not supported by testin: ${why}`, `leave --${flag} out, or give docker's default, ${fix}`);
  }
}

/** Every flag of `testin run`: the run options' table (contract/run-options.ts) and the CLI's own; it also feeds --help. */
export const RUN_FLAGS: Record<string, Options> = {
  ...Object.fromEntries(Object.values(RUN_OPTIONS as RunOptionTable).map((spec) => [spec.flag, yargsOption(spec)])),
  ...CLI_FLAGS,
  ...Object.fromEntries(Object.entries(DEFAULT_ONLY).map(([flag, spec]) => [flag, defaultOnly(spec)])),
};

/** docker run's flags testin does not take, and why: an unknown one of these gets its reason, not yargs' "Unknown argument" */
const NOT_SUPPORTED: Record<string, string> = {
  gpus: 'a VM sees no GPU of the host',
  pid: "the VM has its own kernel: a namespace of the host's cannot be shared",
  uts: "the VM has its own kernel: a namespace of the host's cannot be shared",
  userns: "the VM has its own kernel: a namespace of the host's cannot be shared",
  runtime: 'testin chooses the container around the VM itself',
  'cpuset-cpus': 'the VM has its --cpus',
  'cpu-shares': 'the VM has its --cpus',
  'health-cmd': 'no health checks in a run',
  'log-driver': 'testin relays the output itself',
  attach: 'testin attaches to stdout and stderr always (-i for stdin)',
  a: 'testin attaches to stdout and stderr always (-i for stdin)',
  ...Object.fromEntries(['cpu-quota', 'cpu-period', 'cpu-rt-period', 'cpu-rt-runtime', 'cpu-count', 'cpu-percent', 'cpuset-mems'].map((f) => [f, 'the VM has its --cpus'])),
  ...Object.fromEntries(['memory-reservation', 'memory-swappiness', 'kernel-memory'].map((f) => [f, 'the VM has its memory (--memory)'])),
  ...Object.fromEntries(
    ['blkio-weight', 'blkio-weight-device', 'device-read-bps', 'device-write-bps', 'device-read-iops', 'device-write-iops'].map((f) => [f, "the VM's files come through virtiofs: no block device of the host is in its way"]),
  ),
  'device-cgroup-rule': "a host device cannot be handed into the VM's kernel",
  'cgroup-parent': 'testin places the container around the VM itself',
  ...Object.fromEntries(['health-interval', 'health-retries', 'health-timeout', 'health-start-period', 'health-start-interval'].map((f) => [f, 'no health checks in a run'])),
  'log-opt': 'testin relays the output itself',
  'mac-address': "the VM's NIC is behind the container's, whose address the engine gives",
  'link-local-ip': "the VM's NIC is behind the container's, whose addresses the engine gives",
  'oom-score-adj': "the VM's kernel has its own OOM killer",
  'detach-keys': 'a run has no detaching (-d starts one detached)',
  'storage-opt': "the image's root reaches the VM through virtiofs, not the engine's storage",
  'volume-driver': 'make the volume first (docker volume create --driver ...) and mount it by name',
  isolation: "Windows containers' option",
  annotation: 'the container around the VM carries testin\'s own',
  c: 'the VM has its --cpus',
  'use-api-socket': "the engine's socket is not handed into the VM",
};

/** docker exec's flags `testin exec` does not take, and why */
const EXEC_NOT_SUPPORTED: Record<string, string> = {
  'detach-keys': 'testin exec has no detaching: Ctrl-C stops the command',
};

/** "not supported by testin: WHY" for a docker flag testin does not take (of `docker run`, or of `docker exec` for exec); undefined for a flag docker lacks too */
export function notSupported(flag: string, verb = 'run'): string | undefined {
  const why = (verb === 'exec' ? EXEC_NOT_SUPPORTED : NOT_SUPPORTED)[flag.replace(/^-+/, '')];
  return why && `${flag.length === 1 ? '-' : '--'}${flag.replace(/^-+/, '')}: not supported by testin: ${why}`;
}

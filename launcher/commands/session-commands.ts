
import type { Options } from 'yargs';
import { UsageError } from '../../contract/errors.js';
import { execEnv } from '../build-plan.js';
import { readFlagFile } from '../read-flag-file.js';
import { REPORT_FLAG, RUN_FLAGS } from '../flags.js';
import { abortOnStop, untilStopped } from './abort-on-stop.js';
import type { ExecResult } from '../machine.js';
import type { CliCommand } from './command.js';
import { refuseTerminalWithoutOne, toRunOptions, type ParsedRun } from './run-options-from-flags.js';

/** the sessions' machinery, loaded when a verb runs (not for --help) */
const sessions = (): Promise<typeof import('../machine.js')> => import('../machine.js');

export const upCommand: CliCommand = {
  command: 'up',
  describe: 'boot a VM that stays up (a session): testin up --name N [run flags] IMAGE',
  builder: (y) => y.options(RUN_FLAGS),
  async run(args, command) {
    // a session has no command of its own (docker run -d IMG CMD's would be its main process): its commands come by exec
    if (command?.length) throw new UsageError(`testin up takes no command (${command.join(' ')}): a session runs its commands by testin exec`, `write testin up --name N IMAGE, then testin exec N ${command.join(' ')}`);
    const options = toRunOptions({ ...(args as ParsedRun), _: ['up'] }, undefined);
    // Ctrl-C while the VM starts (a --boot system takes a while): nothing of the session is left
    const { start } = await sessions();
    const started = await untilStopped((signal) => start({ ...options, persistent: true }, { signal }));
    if ('code' in started) return started.code;
    process.stdout.write(`${started.value.name}\n`);
    return 0;
  },
};

/** `testin exec`'s flags: docker exec's */
export const EXEC_FLAGS = {
  detach: { alias: 'd', type: 'boolean', describe: 'start the command and return: it runs on in the VM, its output dropped' },
  interactive: { alias: 'i', type: 'boolean', describe: 'stream stdin to the command' },
  tty: { alias: 't', type: 'boolean', describe: 'run the command on a pty' },
  env: { alias: 'e', type: 'string', array: true, describe: 'set NAME=VALUE, or pass NAME from this environment' },
  'env-file': { type: 'string', array: true, describe: 'read NAME=VALUE lines from a file' },
  privileged: { type: 'boolean', describe: "accepted: the command holds the session's capabilities (testin up --cap-drop takes them away)" },
  workdir: { alias: 'w', type: 'string', describe: 'working directory' },
  user: { alias: 'u', type: 'string', describe: 'uid[:gid] or name[:group]' },
  report: REPORT_FLAG,
} as const satisfies Record<string, Options>;

export const execCommand: CliCommand = {
  command: 'exec <name>',
  describe: 'run a command in a session, in docker exec\'s order: testin exec [-i] [-t] [-e K=V] N CMD ARGS...',
  builder: (y) => y.positional('name', { type: 'string', describe: 'session name' }).options(EXEC_FLAGS),
  async run(args, command) {
    const { reportPath, withReport } = await import('../report-file.js');
    const result = await withReport(reportPath(args.report), { command: 'exec', session: String(args.name) }, () => execInSession(args, command));
    return result.exitCode;
  },
};

async function execInSession(args: Record<string, unknown>, command: string[] | undefined): Promise<ExecResult> {
  if (!command?.length) throw new UsageError('no command to run', 'write testin exec NAME CMD ARGS...');
  if (args.detach !== true) refuseTerminalWithoutOne(args);
  const fileTexts = ((args['env-file'] as string[] | undefined) ?? []).map((path) => readFlagFile(path, '--env-file', 'NAME=VALUE'));
  const env = execEnv((args.env as string[] | undefined) ?? [], fileTexts, process.env);
  const machine = await (await sessions()).attachSession(String(args.name));
  // a stop goes to the command as the signal it is (Ctrl-C as SIGINT, a closed terminal as SIGHUP); a second one kills it
  let running: { kill(signal?: NodeJS.Signals): void } | undefined;
  const stop = abortOnStop((sig, count) => running?.kill(count > 1 ? 'SIGKILL' : sig));
  const tty = args.tty ? { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } : undefined;
  const restore = args.tty && process.stdin.isTTY ? (await import('../raw-terminal.js')).makeTerminalRaw() : undefined;
  try {
    const spawned = machine.spawn(command, {
      env,
      cwd: args.workdir as string | undefined,
      user: args.user as string | undefined,
      tty,
      stdin: args.interactive ? process.stdin : undefined,
      detach: args.detach === true,
      stdout: process.stdout,
      stderr: process.stderr,
    });
    running = spawned;
    // a stop that came while the session was being found
    const early = stop.by();
    if (early) spawned.kill(early);
    const result = await spawned.result;
    return { ...result, canceled: stop.by() !== undefined };
  } finally {
    stop.dispose();
    restore?.();
    process.stdin.pause();
  }
}

export const lsCommand: CliCommand = {
  command: 'ls',
  describe: 'list the sessions and detached runs: name, kind, image, accel, cpus, memory, age, state',
  async run() {
    const rows = await (await sessions()).listSessions();
    const table = [
      ['NAME', 'KIND', 'IMAGE', 'ACCEL', 'CPUS', 'MEMORY', 'AGE', 'STATE'],
      ...rows.map((r) => [r.name, r.kind === 'session' ? 'session' : 'run -d', r.image, r.accel, r.cpus, r.memory, formatAge(Date.now() - r.createdAt.getTime()), r.ended ? `ended: ${r.ended}` : r.running ? 'running' : 'stopped']),
    ];
    const widths = (table[0] as string[]).map((_, i) => Math.max(...table.map((row) => (row[i] as string).length)));
    process.stdout.write(`${table.map((row) => row.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n')}\n`);
    return 0;
  },
};

export const logsCommand: CliCommand = {
  command: 'logs <name>',
  describe: "print a session's guest console (after a crash too), or with --dmesg its kernel's whole log",
  builder: (y) => y.positional('name', { type: 'string' }).option('dmesg', { type: 'boolean', default: false, describe: "the kernel's log buffer (every level), read by the VM's init" }),
  async run(args) {
    const machine = await (await sessions()).attachSession(String(args.name));
    process.stdout.write(args.dmesg ? await machine.dmesg() : await machine.consoleLog());
    return 0;
  },
};

export const downCommand: CliCommand = {
  command: 'down <name>',
  describe: 'stop a session and remove everything of it (also after a crash)',
  builder: (y) => y.positional('name', { type: 'string' }),
  async run(args) {
    await (await (await sessions()).attachSession(String(args.name))).stop();
    return 0;
  },
};

function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

import yargs from 'yargs';
import { buildToolbox } from '../toolbox/build-toolbox.js';
import { ensureToolboxVolumes, installToolboxVolumes, pruneToolboxVolumes } from '../toolbox/toolbox-volume.js';
import { createDockerClient } from './docker-client.js';
import { TestinError, UsageError } from './errors.js';
import { RUN_FLAGS } from './flags.js';
import { parseDuration } from './parse-duration.js';
import { createLogger, type LogFormat } from './logger.js';
import type { RunOptions } from './run-options.js';
import { run } from './run.js';
import { attachSession, listSessions, start } from './machine.js';
import { makeTerminalRaw } from './raw-terminal.js';

export const EXIT_TESTIN_FAILED = 125;

/** argv before `--` goes to yargs; what follows `--` is the command, untouched. */
export function splitCommand(args: readonly string[]): { flags: string[]; command: string[] | undefined } {
  const at = args.indexOf('--');
  return at < 0 ? { flags: [...args], command: undefined } : { flags: args.slice(0, at), command: args.slice(at + 1) };
}

type ParsedRun = { [K in keyof typeof RUN_FLAGS]?: unknown } & { _: (string | number)[] };

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
    network: str(parsed.network),
    publish: parsed.publish as string[] | undefined,
    expose: parsed.expose as string[] | undefined,
    publishAll: parsed['publish-all'] as boolean | undefined,
    addHost: parsed['add-host'] as string[] | undefined,
    name: str(parsed.name),
    stopTimeout: parsed['stop-timeout'] as number | undefined,
    timeout: parsed.timeout === undefined ? undefined : parseDuration(String(parsed.timeout)),
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
    logLevel: debug ? 'debug' : str(parsed['log-level']),
  };
}

function parser(flags: string[]) {
  return yargs(flags)
    .scriptName('testin')
    .usage('$0 <command>\n\nRuns a command from a container image inside a real Linux VM.')
    .command('run', 'run a command from an image in a fresh VM: testin run --image IMG [flags] [-- CMD ARGS...]', (y) => y.options(RUN_FLAGS))
    .command(
      'toolbox <action>',
      'build: build /testin and fill its volume; install: fill the stable-named volumes compose files use; prune: remove the volumes of other builds',
      (y) =>
        y
          .positional('action', { type: 'string', choices: ['build', 'install', 'prune'] })
          .option('force', { type: 'boolean', describe: 'build: rebuild even when the inputs did not change' }),
    )
    .command('up', 'boot a VM that stays up (a session): testin up --name N --image IMG [run flags]', (y) => y.options(RUN_FLAGS))
    .command('exec <name>', 'run a command in a session: testin exec N [-i] [-t] -- CMD ARGS...', (y) =>
      y
        .positional('name', { type: 'string', describe: 'session name' })
        .option('interactive', { alias: 'i', type: 'boolean', describe: 'stream stdin to the command' })
        .option('tty', { alias: 't', type: 'boolean', describe: 'run the command on a pty' })
        .option('env', { alias: 'e', type: 'string', array: true, describe: 'set NAME=VALUE' })
        .option('workdir', { alias: 'w', type: 'string', describe: 'working directory' })
        .option('user', { alias: 'u', type: 'string', describe: 'uid[:gid] or name[:group]' }),
    )
    .command('ls', 'list the sessions: name, image, accel, cpus, memory, age')
    .command('logs <name>', "print a session's guest console (after a crash too), or with --dmesg its kernel's whole log", (y) =>
      y.positional('name', { type: 'string' }).option('dmesg', { type: 'boolean', default: false, describe: "the kernel's log buffer (every level), read by the VM's init" }),
    )
    .command('down <name>', 'stop a session and remove everything of it (also after a crash)', (y) => y.positional('name', { type: 'string' }))
    .command('compose', 'write a compose override that runs chosen services in a VM', (y) =>
      y
        .option('file', { alias: 'f', type: 'string', array: true, describe: 'compose file(s) (default docker-compose.yml)' })
        .option('service', { alias: 's', type: 'string', array: true, describe: 'service to run in a VM (repeat for more)' })
        .option('output', { alias: 'o', type: 'string', describe: 'override file to write (default compose.testin.yml beside the first file)' }),
    )
    .demandCommand(1, 'name a command: run, up, exec, ls, logs, down, compose, toolbox build|install|prune')
    .parserConfiguration({ 'camel-case-expansion': false })
    .strict()
    .exitProcess(false)
    .version(false)
    .help()
    .fail((msg, err) => {
      // yargs spreads some messages over lines (Invalid values: / Argument: ...): keep one line
      throw err ?? new UsageError(msg.split('\n').map((l) => l.trim()).filter(Boolean).join(' '));
    });
}

type SessionArgs = ParsedRun & { name?: string; dmesg?: boolean; interactive?: boolean; tty?: boolean; env?: string[]; workdir?: string; user?: string };

async function sessionCommand(verb: string, args: SessionArgs, command: string[] | undefined): Promise<number> {
  if (verb === 'up') {
    const options = toRunOptions({ ...args, _: ['up'] }, undefined);
    const machine = await start({ ...options, persistent: true });
    process.stdout.write(`${machine.name}\n`);
    return 0;
  }
  if (verb === 'ls') {
    const rows = await listSessions();
    const table = [['NAME', 'IMAGE', 'ACCEL', 'CPUS', 'MEMORY', 'AGE', 'STATE'], ...rows.map((r) => [r.name, r.image, r.accel, r.cpus, r.memory, formatAge(Date.now() - r.createdAt.getTime()), r.running ? 'running' : 'stopped'])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    process.stdout.write(table.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
    return 0;
  }
  const machine = await attachSession(String(args.name));
  if (verb === 'down') {
    await machine.stop();
    return 0;
  }
  if (verb === 'logs') {
    process.stdout.write(args.dmesg ? await machine.dmesg() : await machine.consoleLog());
    return 0;
  }
  if (!command?.length) throw new UsageError('no command after --', 'write testin exec NAME -- CMD ARGS...');
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = args.tty ? { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } : undefined;
  const restore = args.tty && process.stdin.isTTY ? makeTerminalRaw() : undefined;
  try {
    const result = await machine.exec(command, {
      env: args.env,
      cwd: args.workdir,
      user: args.user,
      tty,
      stdin: args.interactive ? process.stdin : undefined,
      stdout: process.stdout,
      stderr: process.stderr,
      signal: controller.signal,
    });
    return result.exitCode;
  } finally {
    restore?.();
    process.stdin.pause();
  }
}

function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** The whole CLI; returns the exit code. `process.exit` lives in bin.ts only. */
export async function main(args: readonly string[]): Promise<number> {
  const { flags, command } = splitCommand(args);
  let debug = flags.includes('--debug');
  try {
    const parsed = (await parser(flags).parseAsync()) as unknown as ParsedRun & { force?: boolean };
    const verb = parsed._[0];
    if (flags.includes('--help') || flags.includes('-h') || verb === undefined) return 0;
    if (verb === 'up' || verb === 'exec' || verb === 'ls' || verb === 'logs' || verb === 'down') {
      return await sessionCommand(String(verb), parsed as unknown as SessionArgs, command);
    }
    if (verb === 'compose') {
      const p = parsed as unknown as { file?: string[]; service?: string[]; output?: string };
      // loaded on demand: compose brings execa and yaml, which a run does not need
      const { writeComposeOverride } = await import('./compose-command.js');
      const output = await writeComposeOverride(createDockerClient(), { files: p.file ?? [], services: p.service ?? [], output: p.output });
      process.stdout.write(`${output}\n`);
      return 0;
    }
    const action = (parsed as { action?: string }).action;
    if (verb === 'toolbox' && action === 'prune') {
      const pruned = await pruneToolboxVolumes(createDockerClient(), buildToolbox());
      for (const name of pruned.removed) process.stdout.write(`removed ${name}\n`);
      for (const name of pruned.inUse) process.stdout.write(`kept ${name} (in use)\n`);
      return 0;
    }
    if (verb === 'toolbox' && action === 'install') {
      const installed = await installToolboxVolumes(createDockerClient(), buildToolbox());
      process.stdout.write(`${installed.toolbox}\n${installed.modules}\n`);
      return 0;
    }
    if (verb === 'toolbox') {
      const toolbox = buildToolbox({ force: parsed.force === true });
      const state = await ensureToolboxVolumes(createDockerClient(), toolbox);
      process.stdout.write(
        `toolbox ${toolbox.hash}\n  tree    ${toolbox.dir}\n  volume  ${toolbox.volumeName}\n  modules ${toolbox.manifest.modules.volumeName} (kernel ${toolbox.manifest.modules.release})\n  ${state}\n`,
      );
      return 0;
    }
    const options = toRunOptions(parsed, command);
    debug ||= options.logLevel === 'debug';
    const logger = createLogger(options.logLevel, parsed['log-format'] as LogFormat);
    const result = await run(options, { forwardProcessSignals: true, logger, stdout: process.stdout, stderr: process.stderr });
    logger.debug({ phases: result.phases, durationMs: result.durationMs }, 'run finished');
    return result.exitCode;
  } catch (error) {
    if (error instanceof TestinError) {
      process.stderr.write(`${error.describe()}\n`);
      if (debug && error.cause) process.stderr.write(`${String((error.cause as Error).stack ?? error.cause)}\n`);
      return error.exitCode;
    }
    process.stderr.write(`testin: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n  please report this, with the command line you ran\n`);
    return EXIT_TESTIN_FAILED;
  }
}

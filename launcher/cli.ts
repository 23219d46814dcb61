/**
 * The CLI: argv becomes typed options for the same calls a library user makes.
 * One module per verb (launcher/commands/); `process.exit` lives in bin.ts only.
 */
import yargs, { type Argv } from 'yargs';
import { TestinError, UsageError } from '../contract/errors.js';
import { EXIT_TESTIN_FAILED } from '../contract/exit-codes.js';
import type { CliCommand, ParsedArgs } from './commands/command.js';
import { composeCommand } from './commands/compose-command.js';
import { doctorCommand } from './commands/doctor-command.js';
import { runCommand } from './commands/run-command.js';
import { splitDockerExec, splitDockerRun } from './commands/run-argv.js';
import { notSupported, REPORT_FLAG, RUN_FLAGS } from './flags.js';
import { downCommand, EXEC_FLAGS, execCommand, logsCommand, lsCommand, upCommand } from './commands/session-commands.js';
import { toolboxCommand } from './commands/toolbox-command.js';
import { runtimeCommand } from './commands/runtime-command.js';

export { toRunOptions } from './commands/run-options-from-flags.js';

const COMMANDS: readonly CliCommand[] = [runCommand, upCommand, execCommand, lsCommand, logsCommand, downCommand, composeCommand, toolboxCommand, runtimeCommand, doctorCommand];

/** flags whose value may look like a flag (`--timeout -5s`): yargs would read `-5s` as flags -5 -s */
const VALUE_FLAGS = new Set(['--timeout', '--boot-timeout', '--memory', '-m', '--cpus', '--stop-timeout']);

/**
 * argv before `--` goes to yargs; what follows `--` is the command, untouched. `run` and `up` also
 * take docker's order (`testin run [FLAGS] IMAGE [CMD...]`, run-argv.ts) when no --image is given.
 */
export function splitCommand(args: readonly string[]): { flags: string[]; command: string[] | undefined } {
  const at = args.indexOf('--');
  const before = at < 0 ? args : args.slice(0, at);
  const docker =
    (args[0] === 'run' || args[0] === 'up') && !before.some((a) => a === '--image' || a.startsWith('--image='))
      ? splitDockerRun(args.slice(1), { ...RUN_FLAGS, report: REPORT_FLAG })
      : args[0] === 'exec'
        ? splitDockerExec(args.slice(1), EXEC_FLAGS)
        : undefined;
  const flags = docker ? [args[0] as string, ...docker.flags] : [...before];
  // `--timeout -5s` -> `--timeout=-5s`, so the value reaches its own check (and its one-line error)
  for (let i = flags.length - 2; i >= 0; i--) {
    if (VALUE_FLAGS.has(flags[i] as string) && /^-\d/.test(flags[i + 1] as string)) flags.splice(i, 2, `${flags[i]}=${flags[i + 1]}`);
  }
  return { flags, command: docker ? docker.command : at < 0 ? undefined : args.slice(at + 1) };
}

function parser(flags: string[]): Argv {
  let y = yargs(flags).scriptName('testin').usage('$0 <command>\n\nRuns a command from a container image inside a real Linux VM.');
  for (const c of COMMANDS) y = y.command(c.command, c.describe, c.builder ?? ((b: Argv) => b));
  return y
    .demandCommand(1, `name a command: ${COMMANDS.map((c) => c.command.split(' ')[0]).join(', ')}`)
    .parserConfiguration({ 'camel-case-expansion': false })
    .strict()
    .exitProcess(false)
    .version(false)
    .help()
    .fail((msg, err) => {
      if (err) throw err;
      // a docker flag testin does not take: why, not "Unknown argument"
      const unknown = /^Unknown arguments?: (.+)$/.exec(msg ?? '')?.[1]?.split(', ') ?? [];
      const verb = flags[0] === 'exec' ? 'exec' : 'run';
      const why = unknown.map((flag) => notSupported(flag, verb)).find((w) => w !== undefined);
      if (why) throw new UsageError(why, `see testin ${verb} --help for the flags testin takes, and README "docker run habits"`);
      // yargs spreads some messages over lines (Invalid values: / Argument: ...): keep one line
      throw new UsageError(msg.split('\n').map((l) => l.trim()).filter(Boolean).join(' '));
    });
}

/**
 * yargs renders a command's whole help (every flag's description, wrapped to the terminal) each
 * time it runs one, to have it at hand should the command fail: ~90 ms of a run's start here. testin
 * never shows help on a failure (its errors are one line and a fix), so that rendering is skipped
 * unless help is asked for.
 */
function skipHelpCache(y: Argv): void {
  const usage = (y as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

/** The whole CLI; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const { flags, command } = splitCommand(args);
  let debug = flags.includes('--debug') || flags.includes('--log-level=debug');
  try {
    const y = parser(flags);
    // -h is docker's --hostname for run and up; help elsewhere
    const help = flags.includes('--help') || (flags.includes('-h') && flags[0] !== 'run' && flags[0] !== 'up');
    if (!help) skipHelpCache(y);
    const parsed = (await y.parseAsync()) as ParsedArgs;
    const verb = String(parsed._[0] ?? '');
    if (help || !verb) return 0;
    const found = COMMANDS.find((c) => c.command.split(' ')[0] === verb);
    if (!found) throw new UsageError(`unknown command "${verb}"`, 'see testin --help');
    debug ||= parsed['log-level'] === 'debug';
    return await found.run(parsed, command);
  } catch (thrown) {
    // an engine's refusal that reached here without a name of its own is still the engine's, not a bug of testin
    const error = (await import('./docker-refusal.js')).engineError(thrown, 'do what testin asked');
    if (error instanceof TestinError) {
      process.stderr.write(`${error.describe()}\n`);
      if (debug && error.cause) process.stderr.write(`${String((error.cause as Error).stack ?? error.cause)}\n`);
      return error.exitCode;
    }
    process.stderr.write(`testin: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n  please report this, with the command line you ran\n`);
    return EXIT_TESTIN_FAILED;
  }
}

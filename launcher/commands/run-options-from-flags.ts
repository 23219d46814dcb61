import { UsageError } from '../../contract/errors.js';
import { RUN_OPTIONS, type RunOptions, type RunOptionTable } from '../../contract/run-options.js';
import { parseDuration } from '../parse-duration.js';
import { refuseNonDefaults } from '../flags.js';

export type ParsedRun = Record<string, unknown> & { _: (string | number)[] };

/** `testin run` (and `up`) flags as the options run() and start() take: each flag by its kind in the table. */
export function toRunOptions(parsed: ParsedRun, command: string[] | undefined): RunOptions {
  const extra = parsed._.slice(1);
  if (extra.length) throw new UsageError(`unexpected argument "${String(extra[0])}"`, 'put the command after --, e.g. testin run --image IMG -- ls -l');
  refuseNonDefaults(parsed);
  const options: Record<string, unknown> = { image: '', command };
  for (const [key, spec] of Object.entries(RUN_OPTIONS as RunOptionTable)) {
    const value = parsed[spec.flag];
    if (value === undefined) continue;
    options[key] = spec.negated
      ? value === false
      : spec.kind === 'duration'
        ? parseDuration(String(value), `--${spec.flag}`)
        : spec.kind === 'string'
          ? String(value)
          : value;
  }
  if (parsed.debug === true) options.logLevel = 'debug';
  return options as unknown as RunOptions;
}

/**
 * -it with a stdin that is not a terminal (a pipe, a file, CI's /dev/null) is refused as docker refuses it: the
 * command's terminal would take that input as keys, and never see its end (a terminal's end of input is Ctrl-D)
 */
export function refuseTerminalWithoutOne(args: Record<string, unknown>, stdinIsTty = process.stdin.isTTY === true): void {
  if (args.tty === true && args.interactive === true && !stdinIsTty) {
    throw new UsageError('the input device is not a TTY: -t with -i needs a terminal on stdin', 'drop -t to pipe stdin into the command (-i alone), or run it from a terminal');
  }
}

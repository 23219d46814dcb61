import type { Argv } from 'yargs';

/** Parsed flags of a verb, before `--` (the command after it comes apart). */
export type ParsedArgs = Record<string, unknown> & { _: (string | number)[] };

/** One CLI verb: its yargs definition and what it does; returns the exit code. */
export interface CliCommand {
  /** yargs' command string, e.g. 'exec <name>' */
  command: string;
  describe: string;
  builder?: (y: Argv) => Argv;
  run(args: ParsedArgs, command: string[] | undefined): Promise<number>;
}

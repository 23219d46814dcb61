import { RUN_FLAGS } from '../flags.js';
import { createLogger, type LogFormat } from '../logger.js';
import { run } from '../run.js';
import type { CliCommand } from './command.js';
import { toRunOptions, type ParsedRun } from './run-options-from-flags.js';

export const runCommand: CliCommand = {
  command: 'run',
  describe: 'run a command from an image in a fresh VM: testin run --image IMG [flags] [-- CMD ARGS...]',
  builder: (y) => y.options(RUN_FLAGS),
  async run(args, command) {
    const options = toRunOptions(args as ParsedRun, command);
    const logger = createLogger(options.logLevel, args['log-format'] as LogFormat);
    const result = await run(options, { forwardProcessSignals: true, logger, stdout: process.stdout, stderr: process.stderr });
    logger.debug({ phases: result.phases, durationMs: result.durationMs }, 'run finished');
    return result.exitCode;
  },
};

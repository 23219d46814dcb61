import { RUN_FLAGS } from '../flags.js';
import type { LogFormat } from '../logger.js';
import type { CliCommand } from './command.js';
import { toRunOptions, type ParsedRun } from './run-options-from-flags.js';

export const runCommand: CliCommand = {
  command: 'run',
  describe: 'run a command from an image in a fresh VM: testin run --image IMG [flags] [-- CMD ARGS...]',
  builder: (y) => y.options(RUN_FLAGS),
  async run(args, command) {
    const options = toRunOptions(args as ParsedRun, command);
    // loaded when a verb needs them: `testin --help` or a usage error does not pay for docker's client or the logger
    const [{ createLogger }, { run }] = await Promise.all([import('../logger.js'), import('../run.js')]);
    const logger = createLogger(options.logLevel, args['log-format'] as LogFormat);
    const result = await run(options, { forwardProcessSignals: true, logger, stdout: process.stdout, stderr: process.stderr });
    logger.debug({ phases: result.phases, durationMs: result.durationMs }, 'run finished');
    return result.exitCode;
  },
};

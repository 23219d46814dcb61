import { REPORT_FLAG, RUN_FLAGS } from '../flags.js';
import type { LogFormat } from '../logger.js';
import type { CliCommand } from './command.js';
import { toRunOptions, type ParsedRun } from './run-options-from-flags.js';

export const runCommand: CliCommand = {
  command: 'run',
  describe: 'run a command from an image in a fresh VM: testin run --image IMG [flags] [-- CMD ARGS...]',
  builder: (y) => y.options(RUN_FLAGS).option('report', REPORT_FLAG),
  async run(args, command) {
    // loaded when a verb needs them: `testin --help` does not pay for docker's client or the logger
    const [{ createLogger }, { run }, { reportPath, withReport }] = await Promise.all([import('../logger.js'), import('../run.js'), import('../report-file.js')]);
    const image = typeof args.image === 'string' ? { name: args.image } : undefined;
    const result = await withReport(reportPath(args.report), { command: 'run', image }, async () => {
      const options = toRunOptions(args as ParsedRun, command);
      const logger = createLogger(options.logLevel, args['log-format'] as LogFormat);
      const r = await run(options, { forwardProcessSignals: true, logger, stdout: process.stdout, stderr: process.stderr });
      logger.debug({ phases: r.phases, durationMs: r.durationMs, vm: r.vm }, 'run finished');
      return r;
    });
    return result.exitCode;
  },
};

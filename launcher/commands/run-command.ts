import { UsageError } from '../../contract/errors.js';
import { REPORT_FLAG, RUN_FLAGS } from '../flags.js';
import type { LogFormat } from '../logger.js';
import type { CliCommand } from './command.js';
import { refuseTerminalWithoutOne, toRunOptions, type ParsedRun } from './run-options-from-flags.js';

export const runCommand: CliCommand = {
  command: 'run',
  describe: 'run a command from an image in a fresh VM: testin run [flags] IMAGE [CMD ARGS...] (or --image IMG [flags] [-- CMD ARGS...])',
  builder: (y) => y.options(RUN_FLAGS).option('report', REPORT_FLAG),
  async run(args, command) {
    if (args.detach === true) return runDetachedCommand(args as ParsedRun, command);
    refuseTerminalWithoutOne(args);
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

/** `testin run -d`: the container's name on stdout, as docker prints its id; the VM runs on */
async function runDetachedCommand(args: ParsedRun, command: string[] | undefined): Promise<number> {
  if (args.report !== undefined) throw new UsageError('--report goes with a run testin waits for: -d returns at once', 'drop --report, or -d (docker wait NAME gives a detached run\'s exit code)');
  const [{ createLogger }, { runDetached }] = await Promise.all([import('../logger.js'), import('../run-detached.js')]);
  const options = toRunOptions(args, command);
  const { name } = await runDetached(options, { forwardProcessSignals: true, logger: createLogger(options.logLevel, args['log-format'] as LogFormat), stderr: process.stderr });
  process.stdout.write(`${name}\n`);
  return 0;
}

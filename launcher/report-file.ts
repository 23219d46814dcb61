/**
 * `--report FILE` (and TESTIN_REPORT): the run's report as JSON, written when
 * the verb ends, whether the command succeeded, failed, or never ran.
 */
import { writeFileSync } from 'node:fs';
import { TestinError } from '../contract/errors.js';
import { EXIT_TESTIN_FAILED } from '../contract/exit-codes.js';
import { buildReport, type ReportInput } from '../contract/run-report.js';
import { packageVersion } from '../toolbox/own-files.js';

/** where the report goes: the flag, else TESTIN_REPORT; undefined: no report */
export function reportPath(flag: unknown, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = typeof flag === 'string' && flag ? flag : env.TESTIN_REPORT;
  return path || undefined;
}

/** the error part of a report: testin's own (code, message, fix), or an internal one */
export function reportedError(error: unknown): NonNullable<ReportInput['error']> {
  if (error instanceof TestinError) return { code: error.code, message: error.message, fix: error.fix, exitCode: error.exitCode };
  return { code: 'TESTIN_INTERNAL', message: error instanceof Error ? error.message : String(error), exitCode: EXIT_TESTIN_FAILED };
}

/**
 * Runs a verb and writes its report: from the result, or from the error that
 * ended it first (which is then thrown on, for the CLI to print). A report that
 * cannot be written is said on stderr; it never changes the exit code.
 */
export async function withReport<T extends NonNullable<ReportInput['result']>>(
  path: string | undefined,
  base: Omit<ReportInput, 'result' | 'error' | 'startedAt' | 'endedAt' | 'testin'>,
  body: () => Promise<T>,
): Promise<T> {
  const startedAt = new Date();
  const write = (rest: Pick<ReportInput, 'result' | 'error' | 'image'>): void => {
    if (!path) return;
    const report = buildReport({ ...base, ...rest, image: rest.image ?? base.image, testin: packageVersion(), startedAt, endedAt: new Date() });
    try {
      writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
    } catch (error) {
      process.stderr.write(`testin: cannot write the report to ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    }
  };
  try {
    const result = await body();
    write({ result, image: (result as { image?: ReportInput['image'] }).image });
    return result;
  } catch (error) {
    write({ error: reportedError(error) });
    throw error;
  }
}

import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { UsageError } from '../contract/errors.js';

export type LogFormat = 'text' | 'json';

/** what testin's own code logs with; a pino logger (RunIo.logger) is one */
export type RunLogger = Pick<Logger, 'debug' | 'info' | 'warn'>;

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Number.POSITIVE_INFINITY } as const;
type Method = 'debug' | 'info' | 'warn';

/**
 * testin's diagnostics: pino on stderr; 'text' prints `testin[level]: msg key=value` lines.
 * pino is loaded on the first message at the level or above: a run that logs nothing (the
 * default level, warn) does not load it, 15-25 ms of the CLI's start here.
 */
export function createLogger(level = 'warn', format: LogFormat = 'text', stream: NodeJS.WritableStream = process.stderr): RunLogger {
  const threshold = (LEVELS as Record<string, number>)[level];
  if (threshold === undefined) throw new UsageError(`unknown log level "${level}"`, `give --log-level one of ${Object.keys(LEVELS).join(', ')}`);
  let real: Logger | undefined;
  const method = (name: Method): RunLogger[Method] => {
    if (LEVELS[name] < threshold) return () => undefined;
    return ((...args: unknown[]) => {
      real ??= pinoLogger(level, format, stream);
      (real[name] as (...a: unknown[]) => void)(...args);
    }) as RunLogger[Method];
  };
  return { debug: method('debug'), info: method('info'), warn: method('warn') };
}

function pinoLogger(level: string, format: LogFormat, stream: NodeJS.WritableStream): Logger {
  const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
  if (format === 'json') return pino({ level, base: undefined }, stream);
  return pino({ level, base: undefined, timestamp: false }, { write: (line: string) => stream.write(formatTextLine(line)) });
}

const NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export function formatTextLine(jsonLine: string): string {
  const { level, msg, ...rest } = JSON.parse(jsonLine) as { level: number; msg?: string } & Record<string, unknown>;
  const extra = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `testin[${NAMES[level] ?? level}]: ${msg ?? ''}${extra ? ` ${extra}` : ''}\n`;
}

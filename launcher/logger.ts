import { pino, type Logger } from 'pino';

export type LogFormat = 'text' | 'json';

/** testin's diagnostics: pino on stderr; 'text' prints `testin[level]: msg key=value` lines. */
export function createLogger(level = 'warn', format: LogFormat = 'text', stream: NodeJS.WritableStream = process.stderr): Logger {
  if (format === 'json') return pino({ level, base: undefined }, stream);
  return pino({ level, base: undefined, timestamp: false }, { write: (line: string) => stream.write(formatTextLine(line)) });
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export function formatTextLine(jsonLine: string): string {
  const { level, msg, ...rest } = JSON.parse(jsonLine) as { level: number; msg?: string } & Record<string, unknown>;
  const extra = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `testin[${LEVELS[level] ?? level}]: ${msg ?? ''}${extra ? ` ${extra}` : ''}\n`;
}

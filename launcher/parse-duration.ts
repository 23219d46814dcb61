import { UsageError } from '../contract/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `--timeout` values: 90 (seconds), 1.5s, 500ms, 5m, 1h, or a sum such as 1m30s. */
export function parseDuration(text: string, flag = 'duration'): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    const what = trimmed.startsWith('-') ? `${flag} ${text}: a duration cannot be negative` : `invalid duration "${text}"`;
    throw new UsageError(what, 'write it as 30s, 5m, 1h, 1m30s or a number of seconds');
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * (UNIT_MS[p[2] as string] ?? 0), 0);
}

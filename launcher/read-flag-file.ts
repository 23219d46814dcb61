import { readFileSync } from 'node:fs';
import { UsageError } from '../contract/errors.js';

/** The text of a file a flag names (--env-file, --label-file): one that cannot be read is the user's to fix, 125. */
export function readFlagFile(path: string, flag: string, lines: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, `give ${flag} a readable file of ${lines} lines`);
  }
}

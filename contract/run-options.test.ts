import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toRunOptions } from '../launcher/commands/run-options-from-flags.js';
import { RUN_FLAGS } from '../launcher/flags.js';
import { optionsFromVariables, RUN_OPTIONS, runOptionVariables, type RunOptionTable } from './run-options.js';

const table = Object.entries(RUN_OPTIONS as RunOptionTable);

describe('the run options table', () => {
  it('gives every option a flag of its own, and yargs a flag for each', () => {
    const flags = table.map(([, spec]) => spec.flag);
    expect(new Set(flags).size).toBe(flags.length);
    for (const flag of flags) expect(RUN_FLAGS[flag]?.describe, flag).toBeTruthy();
    expect(RUN_FLAGS.accel?.choices).toEqual(['auto', 'kvm', 'tcg']);
    expect(RUN_FLAGS.env).toMatchObject({ alias: 'e', array: true, type: 'string' });
  });

  it('turns each flag into its option by its kind', () => {
    const sample = { string: 'x', strings: ['a', 'b'], boolean: true, number: 3, duration: '2s' } as const;
    for (const [key, spec] of table) {
      const value = spec.choices ? spec.choices[1] : sample[spec.kind];
      const options = toRunOptions({ _: ['run'], [spec.flag]: spec.negated ? false : value }, undefined) as unknown as Record<string, unknown>;
      const want = spec.negated ? true : spec.kind === 'duration' ? 2000 : value;
      expect(options[key], `--${spec.flag}`).toEqual(want);
    }
  });

  it('lists in the README every TESTIN_* variable container-init reads', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const names = runOptionVariables().map((v) => v.name);
    expect(names).toContain('TESTIN_MEMORY');
    for (const name of names) expect(readme, name).toContain(`\`${name}`);
  });
});

describe('optionsFromVariables', () => {
  it('reads each variable by its kind, and leaves out the empty and the unknown', () => {
    expect(
      optionsFromVariables({ TESTIN_CPUS: '4', TESTIN_CONSOLE: '1', TESTIN_READ_ONLY: 'false', TESTIN_FORWARD: '8080/tcp, 53/udp', TESTIN_ACCEL: 'tcg', TESTIN_MEMORY: '', TESTIN_OTHER: '1' }),
    ).toEqual({ cpus: 4, console: true, readOnly: false, expose: ['8080/tcp', '53/udp'], accel: 'tcg' });
  });

  it('names the variable of a bad value', () => {
    expect(() => optionsFromVariables({ TESTIN_ACCEL: 'hvf' })).toThrow(/TESTIN_ACCEL=hvf is not one of auto, kvm, tcg/);
    expect(() => optionsFromVariables({ TESTIN_CONSOLE: 'yes' })).toThrow(/TESTIN_CONSOLE=yes is not 1 or 0/);
    expect(() => optionsFromVariables({ TESTIN_STOP_TIMEOUT: '-1' })).toThrow(/TESTIN_STOP_TIMEOUT=-1 is not a number/);
  });
});

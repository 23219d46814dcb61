import { describe, expect, it } from 'vitest';
import { abnormalTail, diagnoseConsole, lastLines } from './console-tail.js';

describe('console tail', () => {
  it('keeps the last lines without carriage returns or blanks', () => {
    expect(lastLines('a\r\nb\n\nc\nd\n', 2)).toEqual(['c', 'd']);
    // systemd's coloured status lines, and its terminal reset, come out as text
    expect(lastLines('\x1b[!p\x1b]104\x07\x1b[?7h\n[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mdbus.service\x1b[0m.\n', 5)).toEqual(['[  OK  ] Started dbus.service.']);
  });

  it('names a kernel panic or an init failure', () => {
    expect(diagnoseConsole(['[    2.1] sysrq: Trigger a crash', '[    2.2] Kernel panic - not syncing: sysrq triggered crash'])).toBe(
      'the guest kernel panicked: Kernel panic - not syncing: sysrq triggered crash',
    );
    expect(diagnoseConsole(['testin-init: fatal: mount virtiofs root: No such device'])).toBe('the VM init failed: mount virtiofs root: No such device');
    expect(diagnoseConsole(['all fine'])).toBeUndefined();
  });

  it('shows a panic from just before its first line, however long its trace', () => {
    const boot = Array.from({ length: 100 }, (_, i) => `boot ${i}`);
    const trace = Array.from({ length: 60 }, (_, i) => `trace ${i}`);
    const tail = abnormalTail([...boot, 'sysrq: Trigger a crash', 'Kernel panic - not syncing: sysrq triggered crash', ...trace]);
    expect(tail[0]).toBe('boot 98');
    expect(tail).toContain('Kernel panic - not syncing: sysrq triggered crash');
    expect(tail.at(-1)).toBe('trace 59');
    expect(abnormalTail(boot)).toEqual(boot.slice(-40));
  });
});

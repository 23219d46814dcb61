import { describe, expect, it } from 'vitest';
import { abnormalTail, diagnoseConsole, lastLines, lostTimerLine } from './console-tail.js';

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

describe("a booting kernel's lost timer", () => {
  // the console of a cold boot that stood still until its deadline here (2026-12-06, 5 cold boots at once)
  const stalled = [
    '[   23.733521] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
    '[   23.735121] rcu: \t1-...!: (1 GPs behind) idle=09f0/0/0x0 softirq=9/10 fqs=6 (false positive?)',
    '[   23.735765] rcu: \t(detected by 0, t=5252 jiffies, g=-1147, q=2265 ncpus=2)',
    "[   23.757487] rcu: rcu_preempt kthread timer wakeup didn't happen for 5227 jiffies! g-1147 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x402",
    '[   23.758104] rcu: \tPossible timer handling issue on cpu=1 timer-softirq=3',
  ].join('\n');

  it('is the line where RCU says its kthread\'s timer did not fire, without its time stamp', () => {
    expect(lostTimerLine(stalled)).toBe("rcu_preempt kthread timer wakeup didn't happen for 5227 jiffies! g-1147 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x402");
    expect(lostTimerLine("[ 1.0] rcu: rcu_sched kthread timer wakeup didn't happen for 6002 jiffies!")).toBe("rcu_sched kthread timer wakeup didn't happen for 6002 jiffies!");
  });

  it('is not a stall that names no lost timer, a panic, or a quiet console', () => {
    expect(lostTimerLine(stalled.split('\n').slice(0, 3).join('\n'))).toBeUndefined();
    expect(lostTimerLine('[    1.2] Kernel panic - not syncing: VFS')).toBeUndefined();
    expect(lostTimerLine('')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { judgeRunEnd, type EndFacts, type EndTrigger } from './run-end.js';

const facts = (over: Partial<EndFacts> = {}): EndFacts => ({ timedOut: false, killed: false, shuttingDown: false, untilPoweroff: false, guestSpoke: true, ...over });
const vmmExit = (code: number | null, signal: NodeJS.Signals | null = null): EndTrigger => ({
  kind: 'vmmExited',
  exit: { code, signal },
  description: `QEMU exited with ${signal ?? `code ${code}`}: last words`,
});

describe('judgeRunEnd', () => {
  it.each<[string, EndTrigger, Partial<EndFacts>, ReturnType<typeof judgeRunEnd>]>([
    ['the command exits with its code', { kind: 'commandExited', code: 42 }, {}, { kind: 'exited', code: 42 }],
    ['the command is killed by a signal: 128+N', { kind: 'commandExited', code: 0, signal: 15 }, {}, { kind: 'exited', code: 143, signal: 15 }],
    ['--timeout ran out: 124 whatever the command did', { kind: 'commandExited', code: 0, signal: 15 }, { timedOut: true }, { kind: 'exited', code: 124 }],
    ['--boot: the VMM ends after the command, whose code stands', vmmExit(0), { commandExit: { code: 3 } }, { kind: 'exited', code: 3 }],
    ['--boot after --timeout', vmmExit(0), { commandExit: { code: 143, signal: 15 }, timedOut: true }, { kind: 'exited', code: 124 }],
    ['a session taken down', vmmExit(0), { shuttingDown: true }, { kind: 'exited', code: 0 }],
    ['--boot without a command: the system powered off', vmmExit(0), { untilPoweroff: true }, { kind: 'exited', code: 0 }],
    ['Ctrl-C before the command started', vmmExit(null, 'SIGKILL'), { stoppedBeforeCommand: 2 }, { kind: 'exited', code: 130, signal: 2 }],
    ['--timeout, then the stop timeout: the VM stopped hard', vmmExit(null, 'SIGKILL'), { timedOut: true, killed: true }, { kind: 'exited', code: 124 }],
    ['Ctrl-C, then the stop timeout: the VM stopped hard', vmmExit(null, 'SIGKILL'), { killed: true }, { kind: 'exited', code: 137, signal: 9 }],
    ['the guest powered off before the command ended (a panic, with -no-reboot)', vmmExit(0), {}, { kind: 'abnormal', reason: 'the VM powered off before the command ended' }],
    ['--boot without a command: the VMM crashed', vmmExit(1), { untilPoweroff: true }, { kind: 'abnormal', reason: 'QEMU exited with code 1: last words' }],
    ['the VMM crashed', vmmExit(null, 'SIGSEGV'), {}, { kind: 'abnormal', reason: 'QEMU exited with SIGSEGV: last words' }],
    ['the VMM aborted (an assertion) before the guest spoke: started again', vmmExit(null, 'SIGABRT'), { guestSpoke: false }, { kind: 'startCrashed', reason: 'QEMU exited with SIGABRT: last words' }],
    ['the VMM faulted before the guest spoke: started again', vmmExit(null, 'SIGSEGV'), { guestSpoke: false }, { kind: 'startCrashed', reason: 'QEMU exited with SIGSEGV: last words' }],
    ['the VMM aborted after the guest spoke: the command may have run', vmmExit(null, 'SIGABRT'), {}, { kind: 'abnormal', reason: 'QEMU exited with SIGABRT: last words' }],
    ['the VMM exited with an error before the guest spoke (its own refusal): no second start', vmmExit(1), { guestSpoke: false }, { kind: 'abnormal', reason: 'QEMU exited with code 1: last words' }],
    ['the VMM killed from outside before the guest spoke', vmmExit(null, 'SIGKILL'), { guestSpoke: false }, { kind: 'abnormal', reason: 'QEMU exited with SIGKILL: last words' }],
    [
      "the guest's kernel lost a CPU's timer while it booted, and the VMM was stopped hard: started again",
      vmmExit(null, 'SIGKILL'),
      { guestSpoke: false, lostTimer: "rcu_preempt kthread timer wakeup didn't happen for 5227 jiffies!" },
      { kind: 'startCrashed', reason: "the guest's kernel lost a CPU's timer while it booted: rcu_preempt kthread timer wakeup didn't happen for 5227 jiffies!" },
    ],
    ['the VMM stood still before the guest spoke, and was stopped hard: started again', vmmExit(null, 'SIGKILL'), { guestSpoke: false, stoodStillMs: 10_000 }, { kind: 'startCrashed', reason: "QEMU stood still, using no CPU for 10 s before the guest's init answered" }],
    ['Ctrl-C before the guest spoke, the VMM then aborting', vmmExit(null, 'SIGABRT'), { guestSpoke: false, stoppedBeforeCommand: 2 }, { kind: 'exited', code: 130, signal: 2 }],
    ['the boot deadline', { kind: 'bootDeadline', ms: 120_000, restored: false }, {}, { kind: 'abnormal', reason: 'the VM did not start its init within 120 s' }],
    [
      'the boot deadline, with what the host saw meanwhile',
      { kind: 'bootDeadline', ms: 60_000, restored: false, detail: 'QEMU used 6.1 s of CPU' },
      {},
      { kind: 'abnormal', reason: 'the VM did not start its init within 60 s (QEMU used 6.1 s of CPU)' },
    ],
    [
      'a restored guest silent until the boot deadline',
      { kind: 'bootDeadline', ms: 5000, restored: true },
      {},
      { kind: 'abnormal', reason: 'the VM restored from its snapshot did not answer within 5 s' },
    ],
    ["passt ended while the VM ran", { kind: 'helperEnded', reason: "passt ended (code 1)" }, {}, { kind: 'abnormal', reason: 'passt ended (code 1)' }],
    ["--boot's system did not come up", { kind: 'failed', reason: 'failed units: a.service' }, {}, { kind: 'abnormal', reason: 'failed units: a.service' }],
    ['a damaged snapshot', { kind: 'restoreFailed', reason: 'bad header', damaged: true }, {}, { kind: 'restoreFailed', reason: 'bad header', damaged: true }],
  ])('%s', (_what, trigger, over, expected) => {
    expect(judgeRunEnd(trigger, facts(over))).toEqual(expected);
  });
});

/**
 * How a VM run ended, decided once by one pure function from what happened
 * (execa's terminationReason and result.js are the model): the event that ended
 * the run, and what was true at that moment.
 */
import { EXIT_TIMED_OUT, exitCodeForSignal } from '../contract/exit-codes.js';
import type { VmmExit } from './vmm.js';

/** the event that ends a run */
export type EndTrigger =
  /** the command's EXIT (a --boot run ends later, when its system has shut down: then 'vmmExited') */
  | { kind: 'commandExited'; code: number; signal?: number | undefined }
  /** the VMM process (or --no-vm's agent) ended */
  | { kind: 'vmmExited'; exit: VmmExit; description: string }
  /** the guest did not take its command within the boot's deadline; `detail`: what the host saw of it meanwhile */
  | { kind: 'bootDeadline'; ms: number; restored: boolean; detail?: string | undefined }
  /** a helper the VM cannot do without ended while the VM ran (passt: the VM's network) */
  | { kind: 'helperEnded'; reason: string }
  /** the helpers did not start, or --boot's system did not come up */
  | { kind: 'failed'; reason: string }
  /** the snapshot did not come back to life: nothing of the command ran; boot cold instead */
  | { kind: 'restoreFailed'; reason: string; damaged: boolean };

/** what was true when the run ended */
export interface EndFacts {
  /** the command's own status, when its EXIT came */
  commandExit?: { code: number; signal?: number | undefined } | undefined;
  /** --timeout ran out (the run ends 124 whatever the command then did) */
  timedOut: boolean;
  /** testin stopped the VM hard (the stop timeout after Ctrl-C or --timeout) */
  killed: boolean;
  /** a stop (HUP, INT, QUIT, TERM) came before the command started: the run ends as the command would have */
  stoppedBeforeCommand?: number | undefined;
  /** a session was taken down (docker stop): its VM powering off is its end */
  shuttingDown: boolean;
  /** --boot with no command: the system runs until it powers off, which is the run's success */
  untilPoweroff: boolean;
  /** the guest has said something (its hello, or a restored guest's first answer) */
  guestSpoke: boolean;
  /** the VMM was stopped hard after it stood still (no CPU used) this many ms before the guest answered (stall-watch.ts) */
  stoodStillMs?: number | undefined;
  /** the VMM was stopped hard after the booting guest's kernel said a CPU's timer stopped firing (this line: console-tail.ts lostTimerLine) */
  lostTimer?: string | undefined;
}

/** How a VM run ended: the command's status, or an abnormal end with a reason (the caller adds the console). */
export type RunEnd =
  | { kind: 'exited'; code: number; signal?: number | undefined }
  | { kind: 'abnormal'; reason: string }
  | { kind: 'restoreFailed'; reason: string; damaged: boolean }
  /** the VMM crashed (a signal of its own: an assertion, a fault), or stood still, before the guest said anything: nothing of the command ran, a new start may work */
  | { kind: 'startCrashed'; reason: string };

/** the signals a process dies of by its own fault (abort() of an assertion, a bad access), not by being stopped */
const CRASH_SIGNALS: ReadonlySet<string> = new Set(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP', 'SIGSYS']);

const signalled = (signo: number): RunEnd => ({ kind: 'exited', code: exitCodeForSignal(signo), signal: signo });

/** Pure: the run's end. */
export function judgeRunEnd(trigger: EndTrigger, facts: EndFacts): RunEnd {
  switch (trigger.kind) {
    case 'commandExited':
      if (facts.timedOut) return { kind: 'exited', code: EXIT_TIMED_OUT };
      return trigger.signal !== undefined ? signalled(trigger.signal) : { kind: 'exited', code: trigger.code };
    case 'restoreFailed':
      return { kind: 'restoreFailed', reason: trigger.reason, damaged: trigger.damaged };
    case 'bootDeadline':
      return {
        kind: 'abnormal',
        reason: `${trigger.restored ? `the VM restored from its snapshot did not answer within ${trigger.ms / 1000} s` : `the VM did not start its init within ${trigger.ms / 1000} s`}${trigger.detail ? ` (${trigger.detail})` : ''}`,
      };
    case 'helperEnded':
    case 'failed':
      return { kind: 'abnormal', reason: trigger.reason };
    case 'vmmExited': {
      if (facts.commandExit) return facts.timedOut ? { kind: 'exited', code: EXIT_TIMED_OUT } : { kind: 'exited', ...facts.commandExit };
      if (facts.shuttingDown) return { kind: 'exited', code: 0 };
      if (facts.untilPoweroff && trigger.exit.code === 0) return { kind: 'exited', code: 0 };
      if (facts.stoppedBeforeCommand !== undefined) return signalled(facts.stoppedBeforeCommand);
      if (facts.timedOut) return { kind: 'exited', code: EXIT_TIMED_OUT };
      if (facts.killed) return signalled(9);
      if (!facts.guestSpoke && facts.lostTimer !== undefined) return { kind: 'startCrashed', reason: `the guest's kernel lost a CPU's timer while it booted: ${facts.lostTimer}` };
      if (!facts.guestSpoke && facts.stoodStillMs !== undefined) return { kind: 'startCrashed', reason: `QEMU stood still, using no CPU for ${Math.round(facts.stoodStillMs / 1000)} s before the guest's init answered` };
      if (!facts.guestSpoke && trigger.exit.signal !== null && CRASH_SIGNALS.has(trigger.exit.signal)) return { kind: 'startCrashed', reason: trigger.description };
      return { kind: 'abnormal', reason: trigger.exit.code === 0 && trigger.exit.signal === null ? 'the VM powered off before the command ended' : trigger.description };
    }
  }
}

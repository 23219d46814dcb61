/**
 * The command in the VM as something the one terminate module can stop
 * (contract/terminate.ts): a signal goes to the command; SIGKILL, the last
 * step, stops the whole VM hard (the command cannot outlive it).
 */
import { constants } from 'node:os';
import type { Killable } from '../contract/terminate.js';

export interface SignalTarget {
  /** passes a signal to the command (before it runs: a stop ends the boot) */
  signal(signo: number): void;
  /** stops the VM hard */
  kill(): void;
}

/** A stop's SIGTERM reaches the command as its stop signal (--stop-signal, the image's STOPSIGNAL). */
export function guestCommand(vm: SignalTarget, stopSignal = 15, beforeKill: () => void = () => undefined): Killable {
  return {
    kill(signal: NodeJS.Signals) {
      if (signal !== 'SIGKILL') return vm.signal(signal === 'SIGTERM' ? stopSignal : constants.signals[signal]);
      beforeKill();
      vm.kill();
    },
  };
}

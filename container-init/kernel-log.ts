/**
 * container-init's own question to the guest: its kernel's log (the init reads
 * /dev/kmsg), asked when the command was killed by a SIGKILL nobody here sent,
 * to tell the user when the guest's OOM killer did it.
 */
import { MessageType, encodeFrame, type Frame } from '../contract/control-protocol.js';

/** the command id of this question (a session's commands count up from 1) */
export const KERNEL_LOG_ID = 0xffffffff;
const KERNEL_LOG_WAIT_MS = 2000;

/** Pure: the line (and fix) that says the guest ran out of memory, when its kernel log says its OOM killer struck. */
export function oomNotice(kernelLog: string, memoryMiB: number): string | undefined {
  if (!/Out of memory: Killed process|oom-kill:/.test(kernelLog)) return undefined;
  return `testin: the command was killed by the guest kernel's OOM killer: the VM (${memoryMiB} MiB) ran out of memory\n  fix: give the VM more, e.g. --memory ${Math.max(2, Math.ceil((memoryMiB * 2) / 1024))}g\n`;
}

/** Asks the guest for its kernel log; resolves with what came within the wait (empty when nothing did). */
export class KernelLogQuestion {
  #chunks: Buffer[] = [];
  #done?: () => void;

  /** true when the frame answered this question */
  take(frame: Frame): boolean {
    if (frame.id !== KERNEL_LOG_ID) return false;
    if (frame.type === MessageType.stdout) this.#chunks.push(frame.payload);
    else if (frame.type === MessageType.exit || frame.type === MessageType.error) this.#done?.();
    return true;
  }

  ask(send: (frame: Buffer) => void): Promise<string> {
    this.#chunks = [];
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#done?.(), KERNEL_LOG_WAIT_MS);
      this.#done = () => {
        this.#done = undefined;
        clearTimeout(timer);
        resolve(Buffer.concat(this.#chunks).toString('utf8'));
      };
      send(encodeFrame(MessageType.dmesg, KERNEL_LOG_ID));
    });
  }
}

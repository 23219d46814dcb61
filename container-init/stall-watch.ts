/**
 * A VM that stands still before its guest answers: QEMU alive but using no CPU
 * (a deadlock of its own; a booting guest always computes, under TCG or KVM).
 * Such a start is ended and made again at once, rather than waited for until
 * the boot's deadline.
 */
import { readFileSync } from 'node:fs';
import { followFile } from './follow-file.js';

/** Linux's USER_HZ: the unit of /proc/PID/stat's times on every architecture it runs */
const TICK_MS = 10;

/** a process's CPU time in ms (user and system; a KVM guest's time is counted as user time), from its /proc/PID/stat; undefined once it is gone */
export function cpuMs(pid: number, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | undefined {
  let stat: string;
  try {
    stat = read(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // the name (field 2) is in parentheses and may hold spaces: fields count from after its ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * TICK_MS : undefined;
}

export interface StallRule {
  /** how often the CPU time is read */
  everyMs: number;
  /** how long a stand-still must last */
  windowMs: number;
  /** less CPU than this over the window is a stand-still */
  minCpuMs: number;
}

export const STALL_RULE: StallRule = { everyMs: 5000, windowMs: 10_000, minCpuMs: 50 };

/** Pure: the ms the process has stood still, when the samples span the rule's window and the CPU time grew less than its minimum over it; else undefined. */
export function stoodStill(samples: readonly { at: number; cpuMs: number }[], rule: StallRule): number | undefined {
  const last = samples.at(-1);
  if (!last) return undefined;
  // the latest sample at least a window before the last one
  const from = [...samples].reverse().find((s) => last.at - s.at >= rule.windowMs);
  if (!from) return undefined;
  return last.cpuMs - from.cpuMs < rule.minCpuMs ? last.at - from.at : undefined;
}

/** Reads PID's CPU time every rule.everyMs; calls onStill once if it stood still. Returns the stop. */
export function watchStall(pid: number, onStill: (ms: number) => void, rule: StallRule = STALL_RULE, read?: (path: string) => string): () => void {
  const samples: { at: number; cpuMs: number }[] = [];
  const sample = (): void => {
    const cpu = cpuMs(pid, read);
    if (cpu === undefined) {
      stop();
      return;
    }
    samples.push({ at: Date.now(), cpuMs: cpu });
    // only the last window's samples matter
    if (samples.length > Math.ceil(rule.windowMs / rule.everyMs) + 2) samples.shift();
    const still = stoodStill(samples, rule);
    if (still !== undefined) {
      stop();
      onStill(still);
    }
  };
  const timer = setInterval(sample, rule.everyMs);
  timer.unref();
  const stop = (): void => clearInterval(timer);
  sample();
  return stop;
}

/**
 * Reads what is added to the guest's console file every `everyMs`, and calls `onLine` once with the
 * first line `find` picks out of it (a cold boot's lost timer: console-tail.ts lostTimerLine). Returns the stop.
 */
export function watchConsole(path: string, find: (text: string) => string | undefined, onLine: (line: string) => void, everyMs = 250): () => void {
  let pending = '';
  return followFile(path, everyMs, (chunk, fromStart) => {
    const text = (fromStart ? '' : pending) + chunk.toString('utf8');
    const cut = text.lastIndexOf('\n');
    pending = text.slice(cut + 1).slice(-4096);
    const line = cut >= 0 ? find(text.slice(0, cut)) : undefined;
    if (line === undefined) return false;
    onLine(line);
    return true;
  });
}

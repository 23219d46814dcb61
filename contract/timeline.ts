/**
 * What container-init writes of a VM's life (TIMELINE_FILE) and the launcher
 * reads back for the run's phases and report: one type for both sides.
 */

/** the VM's steps, in the order they happen: ms since container-init's code began */
export const VM_STEPS = ['virtiofsdUp', 'vmmStarted', 'initUp', 'rootMounted', 'systemUp', 'commandStarted', 'commandEnded', 'vmDown'] as const;
export type VmStep = (typeof VM_STEPS)[number];

export interface VmTimeline extends Partial<Record<VmStep, number>> {
  /** wall clock (ms since the epoch) of the container's PID 1 (`testin-agent --init`, which starts the held QEMU and container-init) */
  pid1StartedAt?: number;
  /** wall clock (ms since the epoch) of container-init's node process start, its code's start, and the VMM's start */
  processStartedAt?: number;
  mainAt?: number;
  vmmStartedAt?: number;
  /** the guest came from the VM's snapshot */
  restored?: boolean;
  /** the restore's parts (ms): QEMU's monitor answering, then waiting for the RAM's image (written beside QEMU's start), QEMU's state loaded, the guest let go on, the control port connected */
  restoreParts?: { monitor: number; ram: number; load: number; resume: number; control: number };
  /** the guest's own steps from its EXEC to its command (exec, root, tmpfs, devices, network, settings, command) and the command reaped (exited): ms on this clock */
  guestSteps?: Record<string, number>;
  /** ms the guest stood still while its snapshot was saved */
  snapshotSaveMs?: number;
  /** ms a snapshot that did not restore cost before the cold boot */
  restoreFailed?: number;
  /** ms a start cost whose VMM crashed before the guest answered (it is started again once) */
  startCrashed?: number;
  /** --timeout ran out */
  timedOut?: boolean;
  /** an abnormal end: the reason and the console's tail */
  abnormal?: { reason: string; consoleTail: string[] };
  /** --boot: the last lines of the system's console */
  console?: string[];
}

/** A timeline read back from a file: only fields of the right type are kept (an old or foreign file cannot mislead the report). */
export function parseTimeline(text: string): VmTimeline {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof raw !== 'object' || raw === null) return {};
  const r = raw as Record<string, unknown>;
  const out: VmTimeline = {};
  const num = (k: string): number | undefined => (typeof r[k] === 'number' && Number.isFinite(r[k]) ? (r[k] as number) : undefined);
  for (const key of [...VM_STEPS, 'pid1StartedAt', 'processStartedAt', 'mainAt', 'vmmStartedAt', 'snapshotSaveMs', 'restoreFailed', 'startCrashed'] as const) {
    const v = num(key);
    if (v !== undefined) out[key] = v;
  }
  // earlier versions wrote 1 for these flags
  if (r.restored === true || r.restored === 1) out.restored = true;
  if (r.timedOut === true || r.timedOut === 1) out.timedOut = true;
  const abnormal = r.abnormal as { reason?: unknown; consoleTail?: unknown } | undefined;
  if (abnormal && typeof abnormal.reason === 'string') {
    out.abnormal = { reason: abnormal.reason, consoleTail: Array.isArray(abnormal.consoleTail) ? abnormal.consoleTail.map(String) : [] };
  }
  if (Array.isArray(r.console)) out.console = r.console.map(String);
  const parts = r.restoreParts as Record<string, unknown> | undefined;
  if (parts && typeof parts === 'object' && (['monitor', 'ram', 'load', 'resume', 'control'] as const).every((k) => typeof parts[k] === 'number')) {
    out.restoreParts = parts as unknown as NonNullable<VmTimeline['restoreParts']>;
  }
  const steps = r.guestSteps as Record<string, unknown> | undefined;
  if (steps && typeof steps === 'object') {
    const kept = Object.entries(steps).filter(([k, v]) => /^[a-z]+$/.test(k) && typeof v === 'number' && Number.isFinite(v));
    if (kept.length) out.guestSteps = Object.fromEntries(kept) as Record<string, number>;
  }
  return out;
}

/** A guest's TAG_STEPS text ("NAME=US NAME=US"): each step's time in ms of the guest's clock, in the guest's order. */
export function parseGuestSteps(text: string): [name: string, ms: number][] {
  const out: [string, number][] = [];
  for (const word of text.split(' ')) {
    const m = /^([a-z]+)=(\d+)$/.exec(word);
    if (m) out.push([m[1] as string, Number(m[2]) / 1000]);
  }
  return out;
}

/**
 * Pure: from the container's start (the launcher's attach and start, at `startedAt`) to QEMU's
 * start, and its parts: the engine starting the container, to its PID 1 (vm.engineStart); PID 1
 * to container-init's node process (vm.initExec: the held QEMU forked, the wrapper, node's exec),
 * the two together vm.containerStart; node loading container-init (vm.initLoad); container-init
 * starting the helpers and QEMU (the rest). Wall clocks of one machine: a remote engine's clock
 * may differ, so only sane values are kept.
 */
export function startPhases(t: VmTimeline, startedAt: number): Record<string, number> {
  const [pid1, proc, main, vmm] = [t.pid1StartedAt, t.processStartedAt, t.mainAt, t.vmmStartedAt];
  if (vmm === undefined || vmm < startedAt) return {};
  const out: Record<string, number> = { 'vm.startToVmm': vmm - startedAt };
  if (proc !== undefined && main !== undefined && proc >= startedAt && main >= proc && vmm >= main) {
    out['vm.containerStart'] = proc - startedAt;
    out['vm.initLoad'] = main - proc;
    if (pid1 !== undefined && pid1 >= startedAt && pid1 <= proc) {
      out['vm.engineStart'] = pid1 - startedAt;
      out['vm.initExec'] = proc - pid1;
    }
  }
  return out;
}

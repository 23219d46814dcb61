/**
 * One run's use of its VM's snapshot: restore it, or (the first run of a shape,
 * or after a damaged one) save it once the guest has booted, as the one run
 * that holds the save lock; and the judgement of a restore that went wrong:
 * a damaged snapshot is replaced, a slow restore (a busy machine) is waited
 * for, and a snapshot whose guest came back to life is never removed.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadRamImage, saveRamImage } from './ram-image.js';
import { markUsed, pruneSnapshots, readSnapshot, removeSnapshotIf, snapshotFiles, snapshotIdentity, takeSaveLock, type SnapshotFiles, type SnapshotMeta } from './snapshot.js';
import { SnapshotLoadError, type RestoreTimes, type VmmExit, type VmmInstance } from './vmm.js';

/** what went wrong while a restored guest was expected to answer */
export type RestoreEvidence =
  /** the VMM read the file and refused it */
  | { kind: 'loadFailed'; message: string }
  /** the VMM's control channel did not answer (a busy machine, a VMM that went away): says nothing of the file */
  | { kind: 'controlLost'; message: string }
  /** the VMM ended before the guest said a word */
  | { kind: 'vmmExited'; exit: VmmExit; description: string }
  /** the guest has said nothing for a while; the VMM says its run state */
  | { kind: 'silent'; runState: string | undefined; silentMs: number };

export type RestoreVerdict =
  /** the guest is alive but slow (the machine is busy): wait, within the boot's deadline */
  | { action: 'wait' }
  /** give up on the snapshot for this run and boot the kernel; a damaged one is replaced */
  | { action: 'bootCold'; damaged: boolean; reason: string };

/** run states in which a guest can no longer answer: it crashed in its restored state */
const DEAD_STATES = new Set(['guest-panicked', 'internal-error', 'shutdown']);

/** Pure: what a restore's trouble means for the snapshot and the run. */
export function judgeRestore(evidence: RestoreEvidence): RestoreVerdict {
  switch (evidence.kind) {
    case 'loadFailed':
      return { action: 'bootCold', damaged: true, reason: evidence.message };
    case 'controlLost':
      return { action: 'bootCold', damaged: false, reason: evidence.message };
    case 'vmmExited':
      // killed by a signal (the OOM killer of a full machine, a stop from outside): no word on the snapshot;
      // an exit of its own (a guest that panicked at once reboots, and -no-reboot ends the VMM) is the snapshot's doing
      return { action: 'bootCold', damaged: evidence.exit.signal === null, reason: evidence.description };
    case 'silent':
      if (evidence.runState !== undefined && DEAD_STATES.has(evidence.runState)) {
        return { action: 'bootCold', damaged: true, reason: `the restored VM stopped (${evidence.runState}) without a word` };
      }
      return { action: 'wait' };
  }
}

export type SnapshotMode = 'auto' | 'replace';

export class SnapshotController {
  readonly files: SnapshotFiles;
  /** the snapshot this run restores; undefined: it boots, and saves one if it is the one to */
  readonly meta: SnapshotMeta | undefined;
  /** the file this run restores from, so that only that file is ever removed as damaged */
  readonly #identity: string | undefined;

  constructor(
    dir: string,
    key: string,
    mode: SnapshotMode,
    private readonly runId: string,
  ) {
    this.files = snapshotFiles(dir, key);
    this.meta = mode === 'auto' ? readSnapshot(this.files) : undefined;
    this.#identity = this.meta ? snapshotIdentity(this.files) : undefined;
  }

  get restoring(): boolean {
    return this.meta !== undefined;
  }

  /** Writes the snapshot's RAM into the guest's RAM file (sizeBytes, on a tmpfs), for a VMM about to start on it, by the toolbox's agent. */
  loadRam(ramFile: string, sizeBytes: number, agent: string): Promise<void> {
    const meta = this.meta;
    if (!meta) return Promise.reject(new Error('no snapshot to restore'));
    return loadRamImage(this.files.ram, meta.ram.extents, ramFile, sizeBytes, agent);
  }

  /** Loads the snapshot into the VMM (started to wait for it) once its RAM is in (`ramReady`: loadRam's), and lets the guest run. Rejects with its evidence. */
  async restore(vmm: VmmInstance, ramReady: Promise<void>): Promise<RestoreTimes> {
    let times: RestoreTimes;
    try {
      times = await vmm.restore(this.files.state, ramReady);
    } catch (error) {
      const message = (error as Error).message;
      throw error instanceof SnapshotLoadError ? ({ kind: 'loadFailed', message } satisfies RestoreEvidence) : ({ kind: 'controlLost', message } satisfies RestoreEvidence);
    }
    markUsed(this.files);
    return times;
  }

  /** The snapshot did not restore and is damaged: removed, if it is still the file this run found. */
  discardDamaged(): boolean {
    return removeSnapshotIf(this.files, this.#identity);
  }

  /**
   * Saves the booted guest (it stands still meanwhile), unless another run
   * saved this shape since this one started or is saving it now. A save is
   * written under this run's name and renamed into place: a restore never
   * sees half a file. Rejects with the VMM's error; the guest goes on either way.
   */
  /** `helloAt`: the wall time the guest's hello came; its uptime went on from then until the stop, where a restored guest's goes on from */
  async save(vmm: VmmInstance, meta: Omit<SnapshotMeta, 'key' | 'createdAt' | 'ram'> & { helloAt?: number }, ramFile: string): Promise<{ saved: true; pruned: string[]; stoppedAt: number } | { saved: false; why: string }> {
    if (readSnapshot(this.files)) return { saved: false, why: 'another run saved it meanwhile' };
    const release = takeSaveLock(this.files, this.runId);
    if (!release) return { saved: false, why: 'another run is saving it' };
    const tmp = { state: `${this.files.state}.${this.runId}.tmp`, ram: `${this.files.ram}.${this.runId}.tmp`, meta: `${this.files.meta}.${this.runId}.tmp` };
    let stoppedAt: number;
    try {
      let ram: SnapshotMeta['ram'] | undefined;
      // the RAM is read while the guest stands still, as the VMM's state is
      stoppedAt = await vmm.save(tmp.state, async () => void (ram = await saveRamImage(ramFile, tmp.ram)));
      if (!ram) throw new Error("the guest's RAM was not saved");
      const { helloAt, ...kept } = meta;
      const uptime = kept.helloUptimeMs + (helloAt === undefined ? 0 : Math.max(0, stoppedAt - helloAt));
      const record: SnapshotMeta = { key: this.files.key, createdAt: new Date().toISOString(), ...kept, helloUptimeMs: uptime, ram };
      writeFileSync(tmp.meta, JSON.stringify(record));
      // the state last: a snapshot is there (readSnapshot) once all its files are
      renameSync(tmp.ram, this.files.ram);
      renameSync(tmp.meta, this.files.meta);
      renameSync(tmp.state, this.files.state);
    } finally {
      rmSync(tmp.state, { force: true });
      rmSync(tmp.ram, { force: true });
      rmSync(tmp.meta, { force: true });
      release();
    }
    return { saved: true, pruned: pruneSnapshots(dirname(this.files.state), this.files.key), stoppedAt };
  }
}

/**
 * The snapshots folder: snapshots of a booted VM (the guest stopped in its init,
 * which has said hello and waits for its first command, before the root is
 * mounted: no virtio-fs request has been made), their names, descriptions,
 * use, pruning and the lock of the one run that saves one. A run restores one
 * instead of booting the kernel (snapshot-controller.ts); the command's EXEC then
 * carries everything of this run: the clock, fresh entropy, the network, the
 * hostname, the mounts.
 *
 * A snapshot is a file of the snapshots volume (one per toolbox), named by a
 * hash of everything the saved state depends on: the toolbox, the VMM's command
 * line (kernel, initrd, cmdline, CPUs, memory, accelerator, devices; its paths
 * are the container's fixed ones) and, under KVM, the host CPU.
 */
import { sha256Hex } from './sha256.js';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RamExtents } from './ram-image.js';

/** what a snapshot's .json beside its .state says */
export interface SnapshotMeta {
  key: string;
  /** the guest's uptime when it stood still for the snapshot (its hello's, and the time from then to the stop): where a restored guest's clock goes on from */
  helloUptimeMs: number;
  release: string;
  createdAt: string;
  /** the guest's RAM, kept beside the VMM's state (ram-image.ts): where its packed runs go, and their bytes */
  ram: { extents: RamExtents; bytes: number };
}

export interface SnapshotFiles {
  key: string;
  state: string;
  /** the guest's RAM image */
  ram: string;
  meta: string;
  /** held by the one run that saves this snapshot */
  lock: string;
}

/** The name of the snapshot a VM of this command line can restore. */
export function snapshotKey(input: { toolboxHash: string; qemuArgv: readonly string[]; hostCpu: string; rootCache: string }): string {
  // the guest mounts the root's share at boot (initfs/boot.c): the snapshot holds a FUSE session begun with a virtiofsd of that cache policy
  return sha256Hex(JSON.stringify([input.toolboxHash, input.qemuArgv, input.hostCpu, input.rootCache])).slice(0, 32);
}

/** Under KVM the guest sees the host's CPU (-cpu host): its model and flags are part of the state. Under TCG, QEMU's own model. */
export function hostCpuSignature(accel: 'kvm' | 'tcg', cpuinfo: () => string): string {
  if (accel !== 'kvm') return '';
  const first = cpuinfo().split('\n\n')[0] ?? '';
  return first
    .split('\n')
    .filter((l) => /^(vendor_id|cpu family|model|model name|stepping|microcode|flags)\s*:/.test(l))
    .join('\n');
}

export function snapshotFiles(dir: string, key: string): SnapshotFiles {
  return { key, state: join(dir, `${key}.state`), ram: join(dir, `${key}.ram`), meta: join(dir, `${key}.json`), lock: join(dir, `${key}.lock`) };
}

/** the snapshot's description when all its files are there; undefined means: boot cold and save one */
export function readSnapshot(files: SnapshotFiles): SnapshotMeta | undefined {
  if (!existsSync(files.state) || !existsSync(files.meta) || !existsSync(files.ram)) return undefined;
  try {
    const meta = JSON.parse(readFileSync(files.meta, 'utf8')) as SnapshotMeta;
    return meta.key === files.key && typeof meta.helloUptimeMs === 'number' && Array.isArray(meta.ram?.extents) ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** a restore says the snapshot is in use: its description's mtime is when it was last used */
export function markUsed(files: SnapshotFiles, now = new Date()): void {
  try {
    utimesSync(files.meta, now, now);
  } catch {
    // removed meanwhile by another run's prune: this run has what it needs
  }
}

/** snapshots unused this long go when a new one is saved */
export const SNAPSHOT_MAX_IDLE_MS = 7 * 24 * 3600 * 1000;
/** and at most this many stay (each holds what its guest had touched: ~80 MiB for a 1 GiB VM under TCG) */
export const SNAPSHOT_MAX_COUNT = 16;

/**
 * Which snapshots of a folder to remove (pure, for the tests): those unused
 * longer than the idle time, then the least recently used beyond the count;
 * never `keep`, the one just saved.
 */
export function snapshotsToPrune(used: readonly { key: string; usedAt: number }[], keep: string, now: number): string[] {
  const others = used.filter((s) => s.key !== keep).sort((a, b) => b.usedAt - a.usedAt);
  return others.filter((s, i) => now - s.usedAt > SNAPSHOT_MAX_IDLE_MS || i >= SNAPSHOT_MAX_COUNT - 1).map((s) => s.key);
}

/** a half-written file of a run that was killed while it saved, and a lock it left, go after this long */
const LEFTOVER_MAX_AGE_MS = 3600 * 1000;

/** Removes the snapshots of the folder that snapshotsToPrune names, and leftovers of killed saves; returns the snapshots' keys. */
export function pruneSnapshots(dir: string, keep: string, now = Date.now()): string[] {
  const used: { key: string; usedAt: number }[] = [];
  for (const name of readdirSync(dir)) {
    if (/\.tmp$|\.lock$/.test(name)) {
      const path = join(dir, name);
      try {
        if (now - statSync(path).mtimeMs > LEFTOVER_MAX_AGE_MS) rmSync(path, { force: true });
      } catch {
        // gone meanwhile
      }
      continue;
    }
    const key = /^([0-9a-f]{32})\.state$/.exec(name)?.[1];
    if (!key) continue;
    const files = snapshotFiles(dir, key);
    let usedAt = 0;
    try {
      usedAt = statSync(files.meta).mtimeMs;
    } catch {
      // a state without its description is of no use: it goes first
    }
    used.push({ key, usedAt });
  }
  const gone = snapshotsToPrune(used, keep, now);
  for (const key of gone) removeSnapshot(snapshotFiles(dir, key));
  return gone;
}

export function removeSnapshot(files: SnapshotFiles): void {
  rmSync(files.state, { force: true });
  rmSync(files.meta, { force: true });
  rmSync(files.ram, { force: true });
}

/** which file a snapshot is (its inode and change time): a run removes the snapshot it found damaged, never one another run saved since */
export function snapshotIdentity(files: SnapshotFiles): string | undefined {
  try {
    const st = statSync(files.state);
    return `${st.ino}:${st.ctimeMs}`;
  } catch {
    return undefined;
  }
}

/** Removes the snapshot if it is still the file `identity` names; true when it did. */
export function removeSnapshotIf(files: SnapshotFiles, identity: string | undefined): boolean {
  if (identity === undefined || snapshotIdentity(files) !== identity) return false;
  removeSnapshot(files);
  return true;
}

/** a lock older than this belongs to a run that died while saving (a save takes seconds, even on a busy machine) */
export const SAVE_LOCK_STALE_MS = 5 * 60 * 1000;

/**
 * Takes the lock of the one run that saves this snapshot (O_EXCL: one winner
 * among concurrent runs of a shape; the others run without saving). A stale
 * lock is taken over. Returns its release, or undefined when another run holds it.
 */
export function takeSaveLock(files: SnapshotFiles, owner: string, now = Date.now()): (() => void) | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(files.lock, 'wx', 0o644);
      writeSync(fd, `${owner}\n`);
      closeSync(fd);
      return () => rmSync(files.lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
      try {
        if (now - statSync(files.lock).mtimeMs < SAVE_LOCK_STALE_MS) return undefined;
        rmSync(files.lock, { force: true });
      } catch {
        // released meanwhile: try again
      }
    }
  }
  return undefined;
}

/**
 * Snapshots of a booted VM: the guest stopped in its init, which has said
 * hello and waits for its first command, before the root is mounted (no
 * virtio-fs request has been made). A run restores one with QEMU's incoming
 * migration from a file (mapped-ram: the RAM sits at fixed offsets, zero pages
 * are holes, so a restore reads only what the guest had touched) instead of
 * booting the kernel. The command's EXEC then carries everything of this run:
 * the clock, fresh entropy, the network, the hostname, the mounts.
 *
 * A snapshot is a file of the snapshots volume (one per toolbox), named by a
 * hash of everything the saved state depends on: the toolbox, the QEMU command
 * line (kernel, initrd, cmdline, CPUs, memory, accelerator, devices; its paths
 * are the container's fixed ones) and, under KVM, the host CPU.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ToolboxManifest } from '../contract/toolbox-manifest.js';
import type { Qmp } from './qmp.js';

/** what a snapshot's .json beside its .state says */
export interface SnapshotMeta {
  key: string;
  /** the guest's uptime when it said hello: where the restored guest's clock of uptime goes on from */
  helloUptimeMs: number;
  release: string;
  createdAt: string;
}

export interface SnapshotFiles {
  key: string;
  state: string;
  meta: string;
}

/** QEMU >= 9 saves to a file with mapped-ram, and Debian 13's virtiofsd takes part in a migration; Debian 12's QEMU 7.2 refuses it */
export function snapshotsSupported(manifest: Pick<ToolboxManifest, 'packages' | 'virtiofsdFlavor'>): boolean {
  const version = manifest.packages['qemu-system-x86'] ?? '';
  const major = Number(/^(?:\d+:)?(\d+)\./.exec(version)?.[1] ?? 0);
  return major >= 9 && manifest.virtiofsdFlavor === 'rust';
}

/** The name of the snapshot a VM of this command line can restore. */
export function snapshotKey(input: { toolboxHash: string; qemuArgv: readonly string[]; hostCpu: string }): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([input.toolboxHash, input.qemuArgv, input.hostCpu]));
  return h.digest('hex').slice(0, 32);
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
  return { key, state: join(dir, `${key}.state`), meta: join(dir, `${key}.json`) };
}

/** the snapshot's description when both its files are there; undefined means: boot cold and save one */
export function readSnapshot(files: SnapshotFiles): SnapshotMeta | undefined {
  if (!existsSync(files.state) || !existsSync(files.meta)) return undefined;
  try {
    const meta = JSON.parse(readFileSync(files.meta, 'utf8')) as SnapshotMeta;
    return meta.key === files.key && typeof meta.helloUptimeMs === 'number' ? meta : undefined;
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
/** and at most this many stay (each holds what its guest had touched: ~75 MiB for a 1 GiB VM under TCG) */
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

/** Removes the snapshots of the folder that snapshotsToPrune names; returns their keys. */
export function pruneSnapshots(dir: string, keep: string, now = Date.now()): string[] {
  const used: { key: string; usedAt: number }[] = [];
  for (const name of readdirSync(dir)) {
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
}

const CAPABILITIES = [
  { capability: 'events', state: true },
  { capability: 'mapped-ram', state: true },
];

async function migrationEnd(qmp: Qmp, run: () => Promise<unknown>): Promise<void> {
  const ended = qmp.event('MIGRATION', (d) => d.status === 'completed' || d.status === 'failed');
  await run();
  const { status } = await ended;
  if (status === 'completed') return;
  const info = (await qmp.execute('query-migrate').catch(() => ({}))) as { 'error-desc'?: string };
  throw new Error(`the migration failed${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
}

/**
 * Lets the guest run again. Right after a migration's "completed" event QEMU may
 * still be finishing it and refuse ("Migration is not finalized yet"): asked
 * again until it takes, within a bound.
 */
async function cont(qmp: Qmp, boundMs = 5000): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    try {
      await qmp.execute('cont');
      return;
    } catch (error) {
      if (!/not finalized/i.test((error as Error).message) || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/**
 * Saves the stopped guest to the snapshot's files, then lets it go on. The
 * state is written under a name of this run's and renamed into place: a
 * restore never sees half a file, and two runs that save at once both leave a
 * whole one.
 */
export async function saveSnapshot(qmp: Qmp, files: SnapshotFiles, meta: Omit<SnapshotMeta, 'key' | 'createdAt'>, runId: string): Promise<void> {
  const tmp = `${files.state}.${runId}.tmp`;
  await qmp.execute('stop');
  try {
    await qmp.execute('migrate-set-capabilities', { capabilities: CAPABILITIES });
    await migrationEnd(qmp, () => qmp.execute('migrate', { uri: `file:${tmp}` }));
    const record: SnapshotMeta = { key: files.key, createdAt: new Date().toISOString(), ...meta };
    writeFileSync(`${files.meta}.${runId}.tmp`, JSON.stringify(record));
    renameSync(`${files.meta}.${runId}.tmp`, files.meta);
    renameSync(tmp, files.state);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${files.meta}.${runId}.tmp`, { force: true });
    await cont(qmp);
  }
}

/** Loads the snapshot into a QEMU started with -incoming defer, and runs the guest. */
export async function restoreSnapshot(qmp: Qmp, files: SnapshotFiles): Promise<void> {
  await qmp.execute('migrate-set-capabilities', { capabilities: CAPABILITIES });
  await migrationEnd(qmp, () => qmp.execute('migrate-incoming', { uri: `file:${files.state}` }));
  // saved while stopped, it comes back stopped
  await cont(qmp);
}

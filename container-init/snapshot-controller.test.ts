import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnapshotController, judgeRestore } from './snapshot-controller.js';
import { SAVE_LOCK_STALE_MS, snapshotFiles, takeSaveLock } from './snapshot.js';
import { SnapshotLoadError, type VmmInstance } from './vmm.js';

const KEY = '0123456789abcdef0123456789abcdef';
const RAM_BYTES = 64 * 1024;

/** a VMM that writes `bytes` when asked to save, and loads or refuses a file when asked to restore */
function fakeVmm(options: { saved?: string; restore?: Error; stoppedAt?: number } = {}): VmmInstance & { saves: number } {
  const vmm = {
    saves: 0,
    argv: [],
    exited: new Promise(() => undefined),
    helper: undefined as never,
    kill: () => undefined,
    describeExit: () => '',
    async save(file: string, whileStopped: () => Promise<void>) {
      vmm.saves++;
      writeFileSync(file, options.saved ?? 'state');
      await whileStopped();
      return options.stoppedAt ?? Date.now();
    },
    async restore(_file: string, ramReady: Promise<void>) {
      await ramReady;
      if (options.restore) throw options.restore;
      return { monitorMs: 1, ramMs: 0, loadMs: 2, resumeMs: 3, resumedAt: 0 };
    },
    runState: async () => 'running',
    close: () => undefined,
  };
  return vmm as VmmInstance & { saves: number };
}

describe('judgeRestore', () => {
  it.each([
    ['a file the VMM refused is damaged', { kind: 'loadFailed', message: 'bad header' }, { action: 'bootCold', damaged: true, reason: 'bad header' }],
    ['a monitor that did not answer says nothing of the file', { kind: 'controlLost', message: 'no monitor' }, { action: 'bootCold', damaged: false, reason: 'no monitor' }],
    [
      'a VMM killed by a signal (the OOM killer of a full machine) says nothing of the file',
      { kind: 'vmmExited', exit: { code: null, signal: 'SIGKILL' }, description: 'QEMU exited with SIGKILL' },
      { action: 'bootCold', damaged: false, reason: 'QEMU exited with SIGKILL' },
    ],
    [
      'a guest that died at once (panic, -no-reboot) is the snapshot\'s doing',
      { kind: 'vmmExited', exit: { code: 0, signal: null }, description: 'QEMU exited with code 0' },
      { action: 'bootCold', damaged: true, reason: 'QEMU exited with code 0' },
    ],
    ['a silent guest that runs is slow, not broken: waited for', { kind: 'silent', runState: 'running', silentMs: 10_000 }, { action: 'wait' }],
    ['a silent guest whose VMM does not answer either (a busy machine): waited for', { kind: 'silent', runState: undefined, silentMs: 10_000 }, { action: 'wait' }],
    [
      'a silent guest that panicked is damaged',
      { kind: 'silent', runState: 'guest-panicked', silentMs: 10_000 },
      { action: 'bootCold', damaged: true, reason: 'the restored VM stopped (guest-panicked) without a word' },
    ],
  ] as const)('%s', (_what, evidence, verdict) => {
    expect(judgeRestore(evidence)).toEqual(verdict);
  });
});

describe('SnapshotController', () => {
  let dir: string;
  let ramDir: string;
  /** the guest's memory: 64 KiB, a page of it written */
  let ramFile: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'testin-unit-snap-'));
    ramDir = mkdtempSync(join(tmpdir(), 'testin-unit-ram-'));
    ramFile = join(ramDir, 'guest.ram');
    const ram = Buffer.alloc(RAM_BYTES);
    ram.write('booted guest', 8192);
    writeFileSync(ramFile, ram);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(ramDir, { recursive: true, force: true });
  });

  const saveOne = (content = 'state'): void => {
    const files = snapshotFiles(dir, KEY);
    writeFileSync(files.state, content);
    writeFileSync(files.ram, 'page');
    writeFileSync(files.meta, JSON.stringify({ key: KEY, helloUptimeMs: 5, release: 'r', createdAt: 'then', ram: { extents: [[0, 4]], bytes: 4 } }));
  };

  it('restores the snapshot that is there, and saves one when there is none', async () => {
    expect(new SnapshotController(dir, KEY, 'auto', 'run1').restoring).toBe(false);
    const first = new SnapshotController(dir, KEY, 'auto', 'run1');
    const vmm = fakeVmm({ saved: 'booted' });
    expect(await first.save(vmm, { helloUptimeMs: 7, release: 'r' }, ramFile)).toEqual({ saved: true, pruned: [], stoppedAt: expect.any(Number) });
    expect(readFileSync(first.files.state, 'utf8')).toBe('booted');
    const next = new SnapshotController(dir, KEY, 'auto', 'run2');
    expect(next.restoring).toBe(true);
    expect(next.meta?.helloUptimeMs).toBe(7);
    // the RAM kept beside the state: its one written page, and where it goes
    expect(next.meta?.ram).toEqual({ extents: [[8192, 4096]], bytes: 4096 });
    // nothing half-written or locked is left
    expect(readdirSync(dir).sort()).toEqual([`${KEY}.json`, `${KEY}.ram`, `${KEY}.state`]);
    // a restore writes the RAM back into an empty memory of the guest's size before the VMM loads its state
    const fresh = join(ramDir, 'fresh.ram');
    writeFileSync(fresh, '');
    truncateSync(fresh, RAM_BYTES);
    // the toolbox's agent writes the runs (initfs/ram-load.c, tested end to end); here a stand-in of dd does, run by run
    const agent = join(dir, 'agent');
    writeFileSync(agent, '#!/bin/sh\n[ "$1" = --ram-load ] || exit 2\nimage=$2 ram=$3; shift 3; from=0\nwhile [ $# -ge 2 ]; do dd if="$image" of="$ram" bs=4096 skip=$((from / 4096)) seek=$(($1 / 4096)) count=$(($2 / 4096)) conv=notrunc status=none || exit 1; from=$((from + $2)); shift 2; done\n', { mode: 0o755 });
    expect(await next.restore(fakeVmm(), next.loadRam(fresh, RAM_BYTES, agent))).toMatchObject({ loadMs: 2 });
    expect(readFileSync(fresh).equals(readFileSync(ramFile))).toBe(true);
  });

  it("keeps the guest's uptime at the stop: its hello's, and the time from the hello to the stop, which the guest ran on", async () => {
    const vmm = fakeVmm({ stoppedAt: 10_040 });
    expect(await new SnapshotController(dir, KEY, 'auto', 'run1').save(vmm, { helloUptimeMs: 700, helloAt: 10_000, release: 'r' }, ramFile)).toMatchObject({ saved: true, stoppedAt: 10_040 });
    expect(new SnapshotController(dir, KEY, 'auto', 'run2').meta?.helloUptimeMs).toBe(740);
  });

  it('one writer: a run of the same shape that saves while another holds the lock does not save', async () => {
    const release = takeSaveLock(snapshotFiles(dir, KEY), 'other');
    expect(release).toBeDefined();
    const vmm = fakeVmm();
    expect(await new SnapshotController(dir, KEY, 'auto', 'run1').save(vmm, { helloUptimeMs: 1, release: 'r' }, ramFile)).toEqual({ saved: false, why: 'another run is saving it' });
    expect(vmm.saves).toBe(0);
    release?.();
    expect(await new SnapshotController(dir, KEY, 'auto', 'run1').save(vmm, { helloUptimeMs: 1, release: 'r' }, ramFile)).toMatchObject({ saved: true });
  });

  it('a lock left by a run that died while saving is taken over once stale', () => {
    const files = snapshotFiles(dir, KEY);
    expect(takeSaveLock(files, 'dead')).toBeDefined();
    expect(takeSaveLock(files, 'me')).toBeUndefined();
    const old = new Date(Date.now() - SAVE_LOCK_STALE_MS - 1000);
    utimesSync(files.lock, old, old);
    expect(takeSaveLock(files, 'me')).toBeDefined();
    expect(readFileSync(files.lock, 'utf8')).toBe('me\n');
  });

  it('does not save over a snapshot another run saved since this one started', async () => {
    const run = new SnapshotController(dir, KEY, 'auto', 'run1');
    saveOne('theirs');
    const vmm = fakeVmm();
    expect(await run.save(vmm, { helloUptimeMs: 1, release: 'r' }, ramFile)).toEqual({ saved: false, why: 'another run saved it meanwhile' });
    expect(readFileSync(snapshotFiles(dir, KEY).state, 'utf8')).toBe('theirs');
  });

  it('a failed save leaves no file, no lock, and the old state of things', async () => {
    const vmm = fakeVmm();
    vmm.save = async (file: string, whileStopped: () => Promise<void>) => {
      writeFileSync(file, 'half');
      await whileStopped();
      throw new Error('disk full');
    };
    await expect(new SnapshotController(dir, KEY, 'auto', 'run1').save(vmm, { helloUptimeMs: 1, release: 'r' }, ramFile)).rejects.toThrow('disk full');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes a damaged snapshot only while it is the file this run found', async () => {
    saveOne('bad');
    const run = new SnapshotController(dir, KEY, 'auto', 'run1');
    await expect(run.restore(fakeVmm({ restore: new SnapshotLoadError('bad header') }), Promise.resolve())).rejects.toEqual({ kind: 'loadFailed', message: 'bad header' });
    // another run replaced it meanwhile: that one stays
    rmSync(snapshotFiles(dir, KEY).state);
    saveOne('good');
    expect(run.discardDamaged()).toBe(false);
    expect(readFileSync(snapshotFiles(dir, KEY).state, 'utf8')).toBe('good');
    const again = new SnapshotController(dir, KEY, 'auto', 'run2');
    expect(again.discardDamaged()).toBe(true);
    expect(existsSync(snapshotFiles(dir, KEY).state)).toBe(false);
  });

  it('a monitor that did not answer is not evidence against the file', async () => {
    saveOne();
    const run = new SnapshotController(dir, KEY, 'auto', 'run1');
    await expect(run.restore(fakeVmm({ restore: new Error("QEMU's monitor did not answer") }), Promise.resolve())).rejects.toEqual({ kind: 'controlLost', message: "QEMU's monitor did not answer" });
  });

  it("'replace' boots cold even where a snapshot is", () => {
    saveOne();
    expect(new SnapshotController(dir, KEY, 'replace', 'run1').restoring).toBe(false);
  });
});

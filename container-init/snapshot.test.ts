import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { splitQmpLines } from './qmp.js';
import { qemuControlArgs } from './qemu-args.js';
import { SNAPSHOT_MAX_COUNT, SNAPSHOT_MAX_IDLE_MS, hostCpuSignature, pruneSnapshots, readSnapshot, snapshotFiles, snapshotKey, snapshotsToPrune } from './snapshot.js';
import { snapshotsSupported } from '../contract/toolbox-manifest.js';

describe('snapshotKey', () => {
  const base = { toolboxHash: 'abc', qemuArgv: ['-m', '1024M', '-smp', '2'], hostCpu: '', rootCache: 'always' };

  it('is the same for the same toolbox, command line and CPU', () => {
    expect(snapshotKey(base)).toBe(snapshotKey({ ...base, qemuArgv: [...base.qemuArgv] }));
    expect(snapshotKey(base)).toMatch(/^[0-9a-f]{32}$/);
  });

  it.each([
    ['another toolbox', { ...base, toolboxHash: 'abd' }],
    ['more memory', { ...base, qemuArgv: ['-m', '2048M', '-smp', '2'] }],
    ['another CPU count', { ...base, qemuArgv: ['-m', '1024M', '-smp', '1'] }],
    ['words moved between arguments', { ...base, qemuArgv: ['-m 1024M', '-smp', '2'] }],
    ['another host CPU', { ...base, hostCpu: 'model name : X' }],
    ["another cache policy of the root's share (the guest mounts it at boot)", { ...base, rootCache: 'never' }],
  ])('differs for %s', (_what, other) => {
    expect(snapshotKey(other)).not.toBe(snapshotKey(base));
  });
});

describe('hostCpuSignature', () => {
  const cpuinfo = 'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nflags\t\t: fpu vmx\ncpu MHz\t\t: 2000.1\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n';

  it('is empty under TCG, where the guest CPU is QEMU\'s own model', () => {
    expect(hostCpuSignature('tcg', () => cpuinfo)).toBe('');
  });

  it('under KVM takes the first CPU\'s model and flags, not its clock', () => {
    const sig = hostCpuSignature('kvm', () => cpuinfo);
    expect(sig).toContain('model name\t: Xeon');
    expect(sig).toContain('flags\t\t: fpu vmx');
    expect(sig).not.toContain('MHz');
    expect(sig).not.toContain('processor');
  });
});

describe('snapshotsSupported', () => {
  it.each([
    ['1:10.0.13+ds-0+deb13u1', 'rust', true],
    ['1:9.2.0+ds-1', 'rust', true],
    ['1:7.2+dfsg-7+deb12u18', 'c', false],
    ['1:8.2.2', 'rust', false],
    ['', 'rust', false],
  ] as const)('QEMU %s with the %s virtiofsd: %s', (version, flavor, yes) => {
    expect(snapshotsSupported({ packages: version ? { 'qemu-system-x86': version } : {}, virtiofsdFlavor: flavor, arch: { host: 'amd64', guest: 'amd64' } })).toBe(yes);
  });

  it("reads the version of the guest architecture's QEMU package", () => {
    const packages = { 'qemu-system-x86': '1:7.2+dfsg-7', 'qemu-system-arm': '1:10.0.13+ds-0+deb13u1' };
    expect(snapshotsSupported({ packages, virtiofsdFlavor: 'rust', arch: { host: 'arm64', guest: 'arm64' } })).toBe(true);
    expect(snapshotsSupported({ packages, virtiofsdFlavor: 'rust', arch: { host: 'amd64', guest: 'amd64' } })).toBe(false);
  });
});

describe('readSnapshot', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('needs the state, the RAM and a description of the same key', () => {
    dir = mkdtempSync(join(tmpdir(), 'snapshot-test-'));
    const files = snapshotFiles(dir, 'k1');
    expect(readSnapshot(files)).toBeUndefined();
    const meta = { key: 'k1', helloUptimeMs: 2300, release: 'r', createdAt: 'now', ram: { extents: [[0, 4096]], bytes: 4096 } };
    writeFileSync(files.meta, JSON.stringify(meta));
    expect(readSnapshot(files)).toBeUndefined();
    writeFileSync(files.state, 'x');
    expect(readSnapshot(files)).toBeUndefined();
    writeFileSync(files.ram, 'x');
    expect(readSnapshot(files)?.helloUptimeMs).toBe(2300);
    // a description of before the RAM was kept apart (mapped-ram in the state) is not one
    writeFileSync(files.meta, JSON.stringify({ ...meta, ram: undefined }));
    expect(readSnapshot(files)).toBeUndefined();
    writeFileSync(files.meta, JSON.stringify({ key: 'k2', helloUptimeMs: 2300 }));
    expect(readSnapshot(files)).toBeUndefined();
    writeFileSync(files.meta, '{not json');
    expect(readSnapshot(files)).toBeUndefined();
  });
});

describe('snapshotsToPrune', () => {
  const now = 10 * SNAPSHOT_MAX_IDLE_MS;

  it('removes what was not used for the idle time, never the one just saved', () => {
    const used = [
      { key: 'new', usedAt: 0 },
      { key: 'fresh', usedAt: now - 1000 },
      { key: 'stale', usedAt: now - SNAPSHOT_MAX_IDLE_MS - 1 },
    ];
    expect(snapshotsToPrune(used, 'new', now)).toEqual(['stale']);
  });

  it('keeps the most recently used up to the count', () => {
    const used = Array.from({ length: SNAPSHOT_MAX_COUNT + 2 }, (_, i) => ({ key: `k${i}`, usedAt: now - i * 1000 }));
    const gone = snapshotsToPrune(used, 'k0', now);
    expect(gone).toEqual([`k${SNAPSHOT_MAX_COUNT}`, `k${SNAPSHOT_MAX_COUNT + 1}`]);
    expect(used.length - gone.length).toBe(SNAPSHOT_MAX_COUNT);
  });

  it('removes every file of a pruned snapshot from a folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapshot-prune-'));
    try {
      const keep = 'a'.repeat(32);
      const old = 'b'.repeat(32);
      for (const key of [keep, old]) {
        const f = snapshotFiles(dir, key);
        writeFileSync(f.state, 'x');
        writeFileSync(f.ram, 'x');
        writeFileSync(f.meta, '{}');
      }
      utimesSync(snapshotFiles(dir, old).meta, new Date(0), new Date(0));
      expect(pruneSnapshots(dir, keep)).toEqual([old]);
      expect(readdirSync(dir).sort()).toEqual([`${keep}.json`, `${keep}.ram`, `${keep}.state`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('QEMU control', () => {
  it('adds the monitor, and -incoming defer only to restore', () => {
    expect(qemuControlArgs({ qmpSocket: '/w/qmp.sock', incoming: false })).toEqual(['-qmp', 'unix:/w/qmp.sock,server=on,wait=off']);
    expect(qemuControlArgs({ qmpSocket: '/w/qmp.sock', incoming: true })).toEqual(['-qmp', 'unix:/w/qmp.sock,server=on,wait=off', '-incoming', 'defer']);
  });

  it('splits QMP lines and keeps a partial one for later', () => {
    const { messages, rest } = splitQmpLines('{"return": {}}\r\n{"event": "MIGRATION", "data": {"status": "completed"}}\n{"retu');
    expect(messages).toEqual([{ return: {} }, { event: 'MIGRATION', data: { status: 'completed' } }]);
    expect(rest).toBe('{"retu');
  });
});

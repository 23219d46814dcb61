import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addNonZeroRuns, loadRamImage, ramImageFault, saveRamImage, systemWords, type RamExtents } from './ram-image.js';

const PAGE = 4096;

describe('addNonZeroRuns', () => {
  it('finds nothing in a zero chunk', () => {
    const extents: RamExtents = [];
    expect(addNonZeroRuns(Buffer.alloc(16 * PAGE), 0, extents)).toEqual([]);
    expect(extents).toEqual([]);
  });

  it('keeps a short zero gap inside one run, and starts another after a long one', () => {
    const chunk = Buffer.alloc(64 * PAGE);
    chunk[PAGE] = 1; // page 1
    chunk[3 * PAGE + 5] = 2; // page 3: a gap of one page
    chunk[40 * PAGE] = 3; // page 40: a gap of 36 pages (144 KiB, more than 64 KiB)
    const extents: RamExtents = [];
    const spans = addNonZeroRuns(chunk, 1 << 20, extents);
    expect(extents).toEqual([
      [(1 << 20) + PAGE, 3 * PAGE],
      [(1 << 20) + 40 * PAGE, PAGE],
    ]);
    expect(spans).toEqual([
      [PAGE, 4 * PAGE],
      [40 * PAGE, 41 * PAGE],
    ]);
  });

  it("goes on with the previous chunk's run across the boundary, the gap's zeros included", () => {
    const extents: RamExtents = [[0, PAGE]];
    const chunk = Buffer.alloc(4 * PAGE);
    chunk[PAGE] = 9;
    // the run ended at PAGE; this chunk begins at 3 pages: 2 zero pages from before, then its first two pages
    expect(addNonZeroRuns(chunk, 3 * PAGE, extents)).toEqual([
      [-1, 2 * PAGE],
      [0, 2 * PAGE],
    ]);
    expect(extents).toEqual([[0, 5 * PAGE]]);
  });
});

describe('saveRamImage and loadRamImage', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'testin-unit-ram-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("give back the same memory from an image of only its non-zero runs", async () => {
    const size = 12 << 20; // three chunks
    const ram = Buffer.alloc(size);
    ram.fill(0xaa, 100, 5000); // the first two pages
    ram.write('across the chunk boundary', (4 << 20) - 10);
    ram.fill(0x55, 9 << 20, (9 << 20) + 3 * PAGE);
    ram[size - 1] = 7;
    const ramFile = join(dir, 'guest.ram');
    writeFileSync(ramFile, ram);
    const image = join(dir, 'snap.ram');
    const saved = await saveRamImage(ramFile, image);
    expect(saved.bytes).toBe(statSync(image).size);
    expect(saved.bytes).toBeLessThan(64 * PAGE);
    expect(saved.extents.reduce((n, [, len]) => n + len, 0)).toBe(saved.bytes);

    // the runs put back where they go, as the toolbox's agent does (initfs/ram-load.c; tested end to end)
    const packed = readFileSync(image);
    const restored = Buffer.alloc(size);
    let at = 0;
    for (const [offset, length] of saved.extents) {
      packed.copy(restored, offset, at, at + length);
      at += length;
    }
    expect(restored.equals(ram)).toBe(true);
    expect(ramImageFault(saved.extents, saved.bytes, size)).toBeUndefined();
  });

  it("says a failed save in the system's words (a full disk: the run's line and fix look for them)", async () => {
    expect(systemWords(new Error('ENOSPC: no space left on device, write'))).toBe('No space left on device');
    expect(systemWords(new Error("ENOENT: no such file or directory, open '/x/y'"))).toBe('No such file or directory');
    expect(systemWords(new Error('something else'))).toBe('something else');
    await expect(saveRamImage(join(dir, 'missing.ram'), join(dir, 'snap.ram'))).rejects.toThrow("writing the guest's RAM: No such file or directory");
  });

  it('refuses an image shorter than its extents say, or reaching past the memory, before the agent runs', async () => {
    expect(ramImageFault([[0, 2 * PAGE]], PAGE, 16 * PAGE)).toBe('the RAM image is shorter than its description');
    expect(ramImageFault([[16 * PAGE, PAGE]], PAGE, 16 * PAGE)).toBe("the RAM image reaches past the guest's memory (69632 > 65536)");
    expect(ramImageFault([[0, PAGE], [15 * PAGE, PAGE]], 2 * PAGE, 16 * PAGE)).toBeUndefined();
    const image = join(dir, 'snap.ram');
    writeFileSync(image, Buffer.alloc(PAGE, 1));
    // an agent that would say it ran: it is never reached
    const agent = join(dir, 'agent');
    writeFileSync(agent, `#!/bin/sh\ntouch ${join(dir, 'ran')}\n`, { mode: 0o755 });
    await expect(loadRamImage(image, [[0, 2 * PAGE]], join(dir, 'restored.ram'), 16 * PAGE, agent)).rejects.toThrow('shorter than its description');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it("hands the runs to the agent in order, and rejects with the agent's last line when it fails", async () => {
    const image = join(dir, 'snap.ram');
    writeFileSync(image, Buffer.alloc(3 * PAGE, 1));
    const agent = join(dir, 'agent');
    writeFileSync(agent, `#!/bin/sh\necho "$@" > ${join(dir, 'args')}\n[ -e ${join(dir, 'fail')} ] || exit 0\necho first >&2\necho "writing the RAM at 4096: No space left on device" >&2\nexit 1\n`, { mode: 0o755 });
    const restored = join(dir, 'restored.ram');
    await loadRamImage(image, [[0, PAGE], [8 * PAGE, 2 * PAGE]], restored, 16 * PAGE, agent);
    expect(readFileSync(join(dir, 'args'), 'utf8')).toBe(`--ram-load ${image} ${restored} 0 4096 32768 8192\n`);
    writeFileSync(join(dir, 'fail'), '');
    await expect(loadRamImage(image, [[0, PAGE]], restored, 16 * PAGE, agent)).rejects.toThrow(/^writing the RAM at 4096: No space left on device$/);
  });
});

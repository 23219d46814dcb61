import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers, snapshotVolume, testin } from '../helpers/testin.js';
// the library as users import it: the built package
import { start, type Machine } from '../../dist/launcher/index.js';

const skip = inject('e2eSkip');

/**
 * the snapshots of the suite's toolbox, as this (local) engine's host sees them: each state file's
 * inode, size and mtime, each description's creation time (its mtime says when it was last used)
 */
async function snapshotFiles(): Promise<Record<string, string>> {
  const volume = await snapshotVolume();
  const dir = (await execa('docker', ['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).stdout.trim();
  const { stdout } = await execa('sh', ['-c', `cd '${dir}' && for f in *.state; do [ -e "$f" ] && stat -c '%n %i %s %Y' "$f"; done; for f in *.json; do [ -e "$f" ] && echo "$f $(grep -o '"createdAt":"[^"]*"' "$f")"; done; true`]);
  return Object.fromEntries(stdout.split('\n').filter(Boolean).map((l) => [l.split(' ')[0] as string, l]));
}

// A sequence of commands, as users type them: the bug that removed sessions lived between two commands
describe.skipIf(skip !== '')('a session outlives everything beside it until it is taken down', () => {
  const cliSession = `testin-e2e-beside-cli-${process.pid}`;
  const libSession = `testin-e2e-beside-lib-${process.pid}`;
  let lib: Machine;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-beside-'));
    // the snapshot of the default VM shape exists before the load (the first run of a shape saves it)
    expect((await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'true'])).exitCode).toBe(0);
  });

  afterAll(async () => {
    await testin(['down', cliSession]);
    await lib?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(await leftovers()).toEqual([]);
  });

  it("testin up in docker's order (CLI, its process gone), then a run, a start()/stop(), a compose run: the session still answers and is listed", async () => {
    const up = await testin(['up', '--name', cliSession, BUSYBOX_IMAGE]);
    expect([up.exitCode, up.stdout.toString()]).toEqual([0, `${cliSession}\n`]);
    // the process that made it has exited: nothing may take that for a dead launcher's leftover
    const run = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'echo', 'beside']);
    expect([run.exitCode, run.stdout.toString()]).toEqual([0, 'beside\n']);
    const other = await start({ image: BUSYBOX_IMAGE }, { stderr: process.stderr });
    expect((await other.exec(['echo', 'other'])).stdout.toString()).toBe('other\n');
    await other.stop();
    const compose = join(dir, 'docker-compose.yml');
    writeFileSync(compose, `services:\n  job:\n    image: ${BUSYBOX_IMAGE}\n    command: ["sh", "-c", "echo from-compose; exit 3"]\n`);
    const override = join(dir, 'compose.testin.yml');
    expect((await execa('node', [TESTIN_BIN, 'compose', '-f', compose, '--service', 'job', '-o', override])).exitCode).toBe(0);
    const composed = await execa('docker-compose', ['-p', `testin-e2e-beside-${process.pid}`, '-f', compose, '-f', override, 'run', '--rm', '-T', 'job'], { reject: false });
    expect([composed.exitCode, composed.stdout]).toEqual([3, 'from-compose']);
    await execa('docker-compose', ['-p', `testin-e2e-beside-${process.pid}`, '-f', compose, '-f', override, 'down', '--remove-orphans'], { reject: false });

    const exec = await testin(['exec', cliSession, '--', 'echo', 'alive']);
    expect([exec.exitCode, exec.stdout.toString(), exec.stderr]).toEqual([0, 'alive\n', '']);
    const ls = await testin(['ls']);
    expect(ls.stdout.toString()).toMatch(new RegExp(`^${cliSession}\\s+session\\s+${BUSYBOX_IMAGE}\\s.*running$`, 'm'));
  });

  it('12 runs at once beside 2 live sessions: every code and output exact, both sessions answer, no snapshot removed or rewritten', async () => {
    lib = await start({ image: BUSYBOX_IMAGE, name: libSession }, { stderr: process.stderr });
    const before = await snapshotFiles();
    expect(Object.keys(before).length).toBeGreaterThan(0);
    const runs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => testin(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', `echo run-${i}; echo err-${i} >&2; exit ${i + 1}`])),
    );
    runs.forEach((r, i) => {
      expect([r.exitCode, r.stdout.toString()]).toEqual([i + 1, `run-${i}\n`]);
      // the TCG notice, then the command's own line: no "did not restore", no "booting cold" (a restored guest
      // slow to answer on a loaded machine is waited for, and says so: that notice is no failure)
      expect(r.stderr.split('\n').filter((l) => l && !l.includes('under TCG') && !/restored from its snapshot has not answered for \d+ s but runs/.test(l))).toEqual([`err-${i}`]);
    });
    expect(await snapshotFiles()).toEqual(before);
    expect((await testin(['exec', cliSession, '--', 'echo', 'still'])).stdout.toString()).toBe('still\n');
    expect((await lib.exec(['echo', 'still'])).stdout.toString()).toBe('still\n');
    const ls = (await testin(['ls'])).stdout.toString();
    expect(ls).toContain(cliSession);
    expect(ls).toContain(libSession);
  });

  it('testin down takes the CLI session, stop() the library one: nothing of either is left', async () => {
    expect((await testin(['down', cliSession])).exitCode).toBe(0);
    await lib.stop();
    expect((await testin(['ls'])).stdout.toString()).not.toMatch(/testin-e2e-beside/);
    expect(await leftovers()).toEqual([]);
  });
});

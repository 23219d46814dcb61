import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { TESTIN_BIN, TRIXIE_BASE } from '../helpers/paths.js';
import { leftovers, testin, testinWhen } from '../helpers/testin.js';

const skip = inject('e2eSkip');
const BROKEN_APT = 'testin-test/broken-apt:1';

async function toolboxVolumes(): Promise<string[]> {
  return (await execa('docker', ['volume', 'ls', '-q', '--filter', 'label=testin.toolbox'])).stdout.split('\n').filter(Boolean).sort();
}

describe.skipIf(skip !== '')('building the toolbox on the engine: failures leave nothing, and say what and how', () => {
  beforeAll(async () => {
    // a Debian base whose mirror answers nothing: apt fails in the builder
    const ctx = mkdtempSync(join(tmpdir(), 'testin-e2e-broken-apt-'));
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${TRIXIE_BASE}\nRUN rm -f /etc/apt/sources.list.d/* && echo 'deb http://127.0.0.1:9/debian trixie main' > /etc/apt/sources.list\n`);
    await execa('docker', ['build', '-q', '-t', BROKEN_APT, ctx]);
    rmSync(ctx, { recursive: true, force: true });
  });

  afterAll(async () => {
    await execa('docker', ['rmi', BROKEN_APT], { reject: false });
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it("a failing apt: the stage, apt's last lines and a fix, exit 125, no volume left, and the next build starts again", async () => {
    const before = await toolboxVolumes();
    const r = await execa('node', [TESTIN_BIN, 'toolbox', 'build', '--toolbox-base', BROKEN_APT], { reject: false });
    expect(r.exitCode).toBe(125);
    const lines = r.stderr.split('\n').filter(Boolean);
    // progress, one line per stage without a terminal
    expect(lines[0]).toBe(`testin: building the toolbox from ${BROKEN_APT} on the engine (once per engine and testin version)`);
    expect(lines).toContain(`testin: [1/7] base image: ${BROKEN_APT}`);
    const error = lines.findIndex((l) => l.startsWith('testin: the toolbox build failed: '));
    expect(lines[error]).toMatch(/apt-get update failed .*\(stage: index\); its last lines:$/);
    expect(lines.slice(error + 1, -1).every((l) => l.startsWith('  | '))).toBe(true);
    expect(lines.slice(error + 1, -1).join('\n')).toMatch(/127\.0\.0\.1/);
    expect(lines.at(-1)).toMatch(/^ {2}fix: let the engine's containers reach Debian's package mirror/);
    expect(await toolboxVolumes()).toEqual(before);
    const again = await execa('node', [TESTIN_BIN, 'toolbox', 'build', '--toolbox-base', BROKEN_APT], { reject: false });
    expect(again.exitCode).toBe(125);
    expect(again.stderr).toMatch(/\[2\/7\] package index/);
  });

  it('Ctrl-C during a build (--force, while apt downloads): 130 at once, the builder and its volumes gone, the toolbox there before still used', async () => {
    const before = await toolboxVolumes();
    const r = await testinWhen(['toolbox', 'build', '--force'], '[3/7]', (child) => child.kill('SIGINT'));
    expect(r.markedAt).toBeGreaterThan(0);
    expect(r.exitCode).toBe(130);
    expect(r.endedAt - r.markedAt).toBeLessThan(10_000);
    expect(await toolboxVolumes()).toEqual(before);
    const run = await testin(['run', '--log-level', 'info', '--image', TRIXIE_BASE, '--', 'true']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/toolbox volume reused/);
  });

  it('a base image that is not there and cannot be pulled: named, with --toolbox-base in the fix', async () => {
    const before = await toolboxVolumes();
    const r = await execa('node', [TESTIN_BIN, 'run', '--toolbox-base', 'testin-test/no-such-base:1', '--image', TRIXIE_BASE, '--', 'true'], { reject: false, timeout: 120_000 });
    expect(r.exitCode).toBe(125);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines.at(-2)).toMatch(/^testin: the toolbox's base image testin-test\/no-such-base:1 is not on the engine and cannot be pulled: /);
    expect(lines.at(-1)).toMatch(/^ {2}fix: .*--toolbox-base IMAGE/);
    expect(await toolboxVolumes()).toEqual(before);
  });
});

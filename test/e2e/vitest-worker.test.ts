import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';
import { leftovers } from '../helpers/testin.js';

const skip = inject('e2eSkip');

describe.skipIf(skip !== '')("the vitest fixture's scope 'worker'", () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('examples/vitest-worker: 3 files on 2 workers boot at most 2 VMs, counted from the engine, and its tests pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-worker-'));
    try {
      const log = join(dir, 'files.log');
      const since = (await execa('docker', ['system', 'info', '--format', '{{.SystemTime}}'])).stdout.trim();
      const r = await execa('npx', ['vitest', 'run', '--config', 'examples/vitest-worker/vitest.config.ts'], { cwd: ROOT, reject: false, env: { TESTIN_WORKER_LOG: log, CI: 'true' } });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const until = (await execa('docker', ['system', 'info', '--format', '{{.SystemTime}}'])).stdout.trim();
      // every VM is a container the engine created: count them
      const events = await execa('docker', ['events', '--since', since, '--until', until, '--filter', 'type=container', '--filter', 'event=create', '--filter', 'label=testin.session', '--format', '{{.Actor.Attributes.name}}']);
      const created = events.stdout.split('\n').filter((n) => n.startsWith('testin-vitest-'));
      const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' '));
      expect(lines.map((l) => l[1]).sort()).toEqual(['one', 'three', 'two']);
      const vms = new Set(lines.map((l) => l[0]));
      expect(created.length).toBe(vms.size);
      expect(created.length).toBeGreaterThanOrEqual(1);
      expect(created.length).toBeLessThanOrEqual(2);
      // one VM ran two files or more, and its second saw the first's line: shared, not reset
      expect(Math.max(...lines.map((l) => Number(l[2])))).toBeGreaterThanOrEqual(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

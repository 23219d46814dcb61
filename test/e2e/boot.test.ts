import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROOT, TRIXIE_BASE } from '../helpers/paths.js';
import { leftovers, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');
const IMAGE = 'testin-test/systemd:13';

describe.skipIf(skip !== '')("--boot: the image's own systemd as PID 1, testin's agent beside it", () => {
  let dir = '';
  beforeAll(async () => {
    await execa(join(ROOT, 'test/fixtures/build-systemd-image.sh'), [IMAGE, TRIXIE_BASE], { stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-boot-'));
    writeFileSync(join(dir, 'broken'), 'on\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('a unit of the image starts at boot; the command runs once the system is up, as the image user would see it', async () => {
    const r = await testin(['run', '--boot', '--image', IMAGE, '--', 'sh', '-c', 'systemctl is-active testin-hello; cat /run/testin-hello; cat /proc/1/comm; systemctl is-system-running']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe('active\nhello from a unit\nsystemd\nrunning\n');
  });

  it('a unit made to fail: the system starts degraded, the run says which unit, and the command still runs', async () => {
    const r = await testin(['run', '--boot', '-v', `${join(dir, 'broken')}:/etc/testin-broken:ro`, '--image', IMAGE, '--', 'systemctl', 'is-system-running']);
    expect(r.stderr).toMatch(/^testin: the system started degraded: failed units: .*testin-broken\.service/m);
    expect(r.stdout.toString()).toBe('degraded\n');
    // systemctl's own code for a degraded system
    expect(r.exitCode).toBe(1);
  });
});

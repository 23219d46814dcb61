import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DockerClient } from './docker-client.js';
import { OWNER_HOST_LABEL, OWNER_PID_LABEL, reapStaleReportDirs, reapStaleRuns } from './reap-stale-runs.js';

describe('reapStaleReportDirs', () => {
  it('removes the report folders of dead launchers only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reap-test-'));
    try {
      for (const f of ['testin-report-111-aaaaaa', 'testin-report-222-bbbbbb', 'unrelated-111-x']) mkdirSync(join(dir, f));
      expect(reapStaleReportDirs((pid) => pid === 222, dir)).toEqual(['testin-report-111-aaaaaa']);
      expect(readdirSync(dir).sort()).toEqual(['testin-report-222-bbbbbb', 'unrelated-111-x']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reapStaleRuns', () => {
  it('removes only containers whose owner process on this host is gone', async () => {
    const removed: string[] = [];
    const containers = [
      { id: 'dead-here', labels: { [OWNER_HOST_LABEL]: hostname(), [OWNER_PID_LABEL]: '111' } },
      { id: 'alive-here', labels: { [OWNER_HOST_LABEL]: hostname(), [OWNER_PID_LABEL]: '222' } },
      { id: 'other-host', labels: { [OWNER_HOST_LABEL]: 'elsewhere', [OWNER_PID_LABEL]: '111' } },
      { id: 'no-owner', labels: {} },
    ];
    const docker = {
      listContainersWithLabels: async () => containers,
      removeContainer: async (id: string) => {
        removed.push(id);
      },
    } as unknown as DockerClient;
    expect(await reapStaleRuns(docker, 'testin.run', (pid) => pid === 222)).toEqual(['dead-here']);
    expect(removed).toEqual(['dead-here']);
  });
});

import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { DockerClient } from '../contract/docker-client.js';
import { LABELS } from '../contract/labels.js';
import { reapStaleRuns } from './reap-stale-runs.js';

const OWNER_HOST_LABEL = LABELS.ownerHost;
const OWNER_PID_LABEL = LABELS.ownerPid;

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

import { hostname } from 'node:os';
import type { DockerClient } from '../contract/docker-client.js';
import { LABELS } from '../contract/labels.js';

/** true while a process with this pid exists (EPERM: it exists, but is not ours) */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the containers of runs whose launcher died without cleaning up
 * (kill -9, a crashed CI job): same host, owner process gone. Returns their ids.
 */
export async function reapStaleRuns(docker: DockerClient, label: string = LABELS.run, alive: (pid: number) => boolean = processAlive): Promise<string[]> {
  const here = hostname();
  const stale = (await docker.listContainersWithLabels(label)).filter(
    (c) => c.labels[LABELS.ownerHost] === here && c.labels[LABELS.ownerPid] !== undefined && !alive(Number(c.labels[LABELS.ownerPid])),
  );
  await Promise.allSettled(stale.map((c) => docker.removeContainer(c.id)));
  return stale.map((c) => c.id);
}

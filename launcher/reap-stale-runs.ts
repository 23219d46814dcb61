import { readdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerClient } from './docker-client.js';

/** labels that tie a run's container to the process that started it */
export const OWNER_HOST_LABEL = 'testin.owner.host';
export const OWNER_PID_LABEL = 'testin.owner.pid';

export function ownerLabels(): Record<string, string> {
  return { [OWNER_HOST_LABEL]: hostname(), [OWNER_PID_LABEL]: String(process.pid) };
}

/** true while a process with this pid exists (EPERM: it exists, but is not ours) */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** host temp folders of runs: `testin-report-<launcher pid>-XXXXXX` */
export const REPORT_DIR_PREFIX = 'testin-report-';

/** Removes the report folders that launchers which died (kill -9) left in the temp folder. */
export function reapStaleReportDirs(alive: (pid: number) => boolean = processAlive, dir: string = tmpdir()): string[] {
  const stale = readdirSync(dir).filter((f) => {
    const pid = new RegExp(`^${REPORT_DIR_PREFIX}(\\d+)-`).exec(f)?.[1];
    return pid !== undefined && !alive(Number(pid));
  });
  for (const f of stale) rmSync(join(dir, f), { recursive: true, force: true });
  return stale;
}

/**
 * Removes the containers of runs whose launcher died without cleaning up
 * (kill -9, a crashed CI job): same host, owner process gone. Returns their ids.
 */
export async function reapStaleRuns(docker: DockerClient, runLabel: string, alive: (pid: number) => boolean = processAlive): Promise<string[]> {
  const here = hostname();
  const stale = (await docker.listContainersWithLabels(runLabel)).filter(
    (c) => c.labels[OWNER_HOST_LABEL] === here && c.labels[OWNER_PID_LABEL] !== undefined && !alive(Number(c.labels[OWNER_PID_LABEL])),
  );
  await Promise.allSettled(stale.map((c) => docker.removeContainer(c.id)));
  reapStaleReportDirs(alive);
  return stale.map((c) => c.id);
}

import { hostname } from 'node:os';

/**
 * Every docker label testin puts on containers and volumes (testcontainers'
 * utils/labels.ts is the model): one place for the keys, one function to make them.
 */
/** every label of testin's starts with `testin.`: a user's --label may not */
export const LABEL_PREFIX = 'testin';

export const LABELS = {
  /** every run's and session's container: the run id (a session's: its name) */
  run: 'testin.run',
  /** the host and pid of the process that started a run, to reap it once that process is gone */
  ownerHost: 'testin.owner.host',
  ownerPid: 'testin.owner.pid',
  /** a session's container: its name */
  session: 'testin.session',
  /** a detached run's container (testin run -d): its run id */
  detached: 'testin.detached',
  /** the accelerator a detached run's VM was planned on, for `testin ls` */
  accel: 'testin.accel',
  /** the choices a session was started with, for `testin ls` */
  sessionCpus: 'testin.cpus',
  sessionMemory: 'testin.memory',
  /** short-lived containers testin makes for itself: volume fillers, builders, probes */
  helper: 'testin.helper',
  /** a compose service the override runs in a VM */
  compose: 'testin.compose',
  /** a toolbox volume: its content hash */
  toolbox: 'testin.toolbox',
  /** a kernel modules volume: its kernel release */
  modules: 'testin.modules',
  /** a user's kernel prepared for a toolbox (--kernel): that toolbox's hash */
  kernel: 'testin.kernel',
  /** a snapshots volume (booted VMs to restore): its toolbox's hash */
  snapshots: 'testin.snapshots',
  /** testin's version that made a volume */
  version: 'testin.version',
  /** what a stable-named volume holds (toolbox hash or modules content name) */
  content: 'testin.content',
} as const;

export type LabelKey = keyof typeof LABELS;

/** Labels for a container or volume: the given keys, and for runs the owner that may reap it. */
export function createLabels(values: Partial<Record<LabelKey, string>>, options: { owner?: boolean } = {}): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) if (value !== undefined) labels[LABELS[key as LabelKey]] = value;
  if (options.owner) {
    labels[LABELS.ownerHost] = hostname();
    labels[LABELS.ownerPid] = String(process.pid);
  }
  return labels;
}

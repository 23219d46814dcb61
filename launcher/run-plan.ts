/**
 * The run plan: the one document the launcher hands to container-init (in the
 * TESTIN_PLAN variable). Every later stage only reads it.
 */
export const PLAN_VERSION = 1;
export const PLAN_ENV = 'TESTIN_PLAN';

export type Accel = 'kvm' | 'tcg';
export type FsCache = 'auto' | 'always' | 'never';
export type NetBackend = 'passt' | 'slirp';

export interface VmPlan {
  cpus: number;
  memoryMiB: number;
  accel: Accel;
  /** extra kernel command line words, after testin's own */
  kernelCmdline: readonly string[];
  /** stream the guest kernel log to stderr */
  console: boolean;
  /** ms to wait for the guest init to say hello */
  bootTimeoutMs: number;
  /** a user's kernel (paths inside the container); absent: the toolbox's */
  kernel?: { kernel: string; initrd: string; format: 'elf' | 'bzImage' } | undefined;
}

/** a user mount staged in the container, moved by container-init to its target in the VM's root */
export interface PlanMount {
  staging: string;
  target: string;
  readOnly: boolean;
}

export interface PlanTmpfs {
  target: string;
  /** mount options, docker's syntax (nosuid,nodev,noexec,size=64m,...) */
  options: string;
}

export interface RunPlan {
  version: typeof PLAN_VERSION;
  runId: string;
  /** argv of the command; never empty */
  argv: readonly string[];
  /** K=V, in docker's order: image Env, then -e flags */
  env: readonly string[];
  cwd: string;
  /** docker's -u syntax (uid[:gid] or name[:group]); '' is the image's default user, root when none */
  user: string;
  hostname?: string | undefined;
  stdin: boolean;
  tty: boolean;
  /** run in the container itself, without a VM (same plan, same exit codes) */
  noVm: boolean;
  /** a long-lived VM (testin up / start()): no command of its own, commands come through `container-init --exec` */
  session?: boolean | undefined;
  readonlyRoot: boolean;
  mounts: readonly PlanMount[];
  /** the running kernel's modules, staged in the container, shown read-only at /lib/modules/<release> */
  kernelModules?: { staging: string; release: string } | undefined;
  tmpfs: readonly PlanTmpfs[];
  fsCache: FsCache;
  /** the VM's NIC: none with --network none; ports forwarded from the container into the VM; who carries its packets (absent: slirp) */
  network: { nic: boolean; forwards: readonly { port: number; proto: 'tcp' | 'udp' }[]; backend?: NetBackend | undefined };
  /** after a forwarded SIGTERM/SIGINT, how long the command gets before the VM is stopped hard */
  stopTimeoutMs: number;
  vm: VmPlan;
  logLevel: string;
}

export function encodePlan(plan: RunPlan): string {
  return JSON.stringify(plan);
}

export function decodePlan(text: string): RunPlan {
  const plan = JSON.parse(text) as RunPlan;
  if (plan.version !== PLAN_VERSION) {
    throw new Error(`run plan version ${String(plan.version)} is not ${PLAN_VERSION}: the toolbox and the launcher differ`);
  }
  if (!Array.isArray(plan.argv) || (plan.argv.length === 0 && !plan.session)) throw new Error('run plan has no command');
  return plan;
}

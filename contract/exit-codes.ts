/**
 * Exit codes, as `docker run` gives them, and the timings of every stop. One
 * home: the launcher, container-init and the VM's init (initfs/init.h) agree on these.
 */

/** testin itself failed: bad input, docker refused, the VM did not start */
export const EXIT_TESTIN_FAILED = 125;
/** the command exists but cannot be executed */
export const EXIT_CANNOT_EXECUTE = 126;
/** the command was not found */
export const EXIT_NOT_FOUND = 127;
/** a run stopped by --timeout, as coreutils timeout */
export const EXIT_TIMED_OUT = 124;
/** a command killed by signal N exits 128+N */
const EXIT_SIGNAL_BASE = 128;

export function exitCodeForSignal(signo: number): number {
  return EXIT_SIGNAL_BASE + signo;
}

/** after SIGTERM, a helper process or a command gets this long before SIGKILL */
export const FORCE_KILL_AFTER_MS = 3000;
/** docker's default grace between SIGTERM and SIGKILL for the command (--stop-timeout) */
export const DEFAULT_STOP_TIMEOUT_S = 10;
/** after the command's EXIT, how long the guest gets to power off by itself */
export const POWEROFF_GRACE_MS = 2000;
/** --boot: the image's init shuts the system down (units stopped, filesystems synced) before the VM is stopped hard */
export const BOOT_POWEROFF_GRACE_MS = 30_000;
/**
 * How long a stop (docker stop, Ctrl-C, a session's down) waits before killing the container:
 * the command's stop timeout, the guest's power-off (a booted system's shutdown takes longer),
 * and a margin for container-init's own teardown.
 */
export function stopGraceMs(plan: { stopTimeoutMs: number; boot?: unknown }): number {
  return plan.stopTimeoutMs + (plan.boot ? BOOT_POWEROFF_GRACE_MS : POWEROFF_GRACE_MS) + FORCE_KILL_AFTER_MS;
}
/** the guest init must say hello within this: TCG boots take seconds, a hang must not take forever */
export const BOOT_TIMEOUT_MS = 120_000;
/** a session's VM must be ready within this (the boot, and container-init before it) */
export const SESSION_READY_TIMEOUT_MS = BOOT_TIMEOUT_MS + 60_000;

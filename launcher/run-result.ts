/** One result shape for success and failure, as execa's. */
export interface RunResult {
  /** the command's exit code (128+N when killed by signal N); 125 when testin itself failed */
  exitCode: number;
  /** the signal that killed the command in the VM, if one did */
  signal?: string | undefined;
  timedOut: boolean;
  /** stopped through the AbortSignal or a forwarded Ctrl-C */
  canceled: boolean;
  durationMs: number;
  /** milliseconds spent in each phase, in order (vm.* are the VM's own steps) */
  phases: Record<string, number>;
  /** the command's output, when no writable was given for it */
  stdout?: Buffer | undefined;
  stderr?: Buffer | undefined;
}

/** testin's public API. */
export { run, RUN_LABEL, type RunIo } from './run.js';
export type { RunOptions, AccelChoice } from './run-options.js';
export type { RunResult } from './run-result.js';
export type { RunPlan, VmPlan, Accel, FsCache } from './run-plan.js';
export {
  TestinError,
  UsageError,
  ImageNotFoundError,
  DockerUnreachableError,
  KvmUnusableError,
  HostPackageMissingError,
  ToolboxBuildError,
} from './errors.js';
export { buildToolbox, type Toolbox } from '../toolbox/build-toolbox.js';
export { start, attachSession, Machine, SESSION_LABEL, type StartOptions, type ExecOptions, type ExecResult, type RunningExec } from './machine.js';

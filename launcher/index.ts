/** testin's public API. */
export { run, type RunIo } from './run.js';
export { runDetached, type DetachedRun, type DetachIo } from './run-detached.js';
export type { RunOptions, AccelChoice } from '../contract/run-options.js';
export type { RunResult } from './run-result.js';
export type { RunPlan, VmPlan, Accel, FsCache } from '../contract/run-plan.js';
export { LABELS } from '../contract/labels.js';
export {
  TestinError,
  UsageError,
  ImageNotFoundError,
  ImagePullError,
  DockerUnreachableError,
  DockerRefusedError,
  EngineLostError,
  KvmUnusableError,
  HostPackageMissingError,
  ToolboxBuildError,
  ToolboxBaseError,
  ToolboxSaveError,
  VolumeInUseError,
  CustomKernelError,
  CanceledError,
  PlanError,
  NoSessionError,
  SessionError,
  VmFileError,
  RuntimeSetupError,
  type EngineAnswer,
} from '../contract/errors.js';
export { ensureToolbox, findToolbox, toolboxBase, DEFAULT_TOOLBOX_BASE } from '../toolbox/ensure-toolbox.js';
export type { ToolboxFacts } from '../contract/toolbox-manifest.js';
export { start, attachSession, Machine, SESSION_LABEL, type StartOptions, type ExecOptions, type ExecResult, type RunningExec } from './machine.js';

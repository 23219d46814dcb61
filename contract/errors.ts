import { EXIT_TESTIN_FAILED } from './exit-codes.js';

/**
 * Expected failures: each has a stable code and a message whose last line says
 * what to do. The CLI prints the message alone (no stack) and exits 125.
 */
export class TestinError extends Error {
  override readonly name: string = 'TestinError';
  /** exit code the CLI uses, as docker run does for its own failures */
  readonly exitCode: number = EXIT_TESTIN_FAILED;

  constructor(
    readonly code: string,
    message: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The two lines a user sees: what went wrong, and how to fix it. */
  describe(): string {
    return `testin: ${this.message}\n  fix: ${this.fix}`;
  }
}

export class UsageError extends TestinError {
  override readonly name = 'UsageError';
  constructor(message: string, fix = 'see `testin run --help`') {
    super('TESTIN_USAGE', message, fix);
  }
}

export class ImageNotFoundError extends TestinError {
  override readonly name = 'ImageNotFoundError';
  constructor(image: string, cause?: unknown, pullNever?: '--pull never') {
    super(
      'TESTIN_IMAGE_NOT_FOUND',
      `image "${image}" is not on the engine${pullNever ? ` (${pullNever})` : ''}`,
      pullNever ? `pull it (docker pull ${image}) or drop --pull never` : `build it (docker build -t ${image} .) or pull it (docker pull ${image}) first`,
      { cause },
    );
  }
}

/** the engine could not pull the image: the registry's words, and what to do */
export class ImagePullError extends TestinError {
  override readonly name = 'ImagePullError';
  constructor(image: string, said: string, fix: string, cause?: unknown) {
    super('TESTIN_IMAGE_PULL', `cannot pull ${image}: ${said}`, fix, { cause });
  }
}

export class DockerUnreachableError extends TestinError {
  override readonly name = 'DockerUnreachableError';
  constructor(cause?: unknown) {
    super(
      'TESTIN_DOCKER_UNREACHABLE',
      `cannot reach the engine (${cause instanceof Error ? cause.message : String(cause)})`,
      'start dockerd (e.g. `systemctl start docker` or `dockerd &`), or set DOCKER_HOST',
      { cause },
    );
  }
}

/** The engine went away while a run used it (stopped, restarted, its connection cut): every container on it stopped with it */
export class EngineLostError extends TestinError {
  override readonly name = 'EngineLostError';
  constructor(cause?: unknown) {
    super(
      'TESTIN_ENGINE_LOST',
      `lost the engine during the run (${cause instanceof Error ? cause.message : String(cause)}): it stopped or restarted, and its containers with it`,
      'run again once the engine is back (docker info); an engine restart stops every container on it, testin\'s VMs too, unless dockerd runs with live-restore',
      { cause },
    );
  }
}

export class KvmUnusableError extends TestinError {
  override readonly name = 'KvmUnusableError';
  constructor(reason: string) {
    super('TESTIN_KVM_UNUSABLE', `--accel kvm was asked for, but KVM is not usable: ${reason}`, 'use --accel auto or --accel tcg');
  }
}

export class HostPackageMissingError extends TestinError {
  override readonly name = 'HostPackageMissingError';
  constructor(what: string, packages: readonly string[]) {
    super(
      'TESTIN_HOST_PACKAGE_MISSING',
      `${what} is missing on this host`,
      `apt-get install -y ${packages.join(' ')}`,
    );
  }
}

export class ToolboxBuildError extends TestinError {
  override readonly name = 'ToolboxBuildError';
  constructor(message: string, fix: string, cause?: unknown) {
    super('TESTIN_TOOLBOX_BUILD', message, fix, { cause });
  }
}

/** what the engine answered: its HTTP status, its words, and what testin had asked it to do */
export interface EngineAnswer {
  statusCode?: number | undefined;
  said: string;
  doing: string;
}

/** The engine refused what testin asked for, or could not do it: a name in use, a network that does not exist, a container it cannot start... */
export class DockerRefusedError extends TestinError {
  override readonly name = 'DockerRefusedError';
  constructor(
    message: string,
    fix: string,
    cause?: unknown,
    /** the engine's answer, for callers that tell one refusal from another */
    readonly engine?: EngineAnswer,
  ) {
    super('TESTIN_DOCKER_REFUSED', message, fix, { cause });
  }
}

/** the work was stopped (Ctrl-C, SIGTERM, an AbortSignal) before it was done; everything it made is gone */
export class CanceledError extends TestinError {
  override readonly name = 'CanceledError';
  constructor(what: string) {
    super('TESTIN_CANCELED', `${what} was stopped before it was done`, 'run it again');
  }
}

/** a plan that cannot be read: another testin version wrote it, or a hand-made TESTIN_PLAN is wrong */
export class PlanError extends TestinError {
  override readonly name = 'PlanError';
  constructor(message: string) {
    super('TESTIN_PLAN', `bad run plan: ${message}`, 'use the same testin version for the launcher and the toolbox (testin toolbox build), or fix TESTIN_PLAN');
  }
}

/** the toolbox's base image is not on the engine and cannot be pulled */
export class ToolboxBaseError extends TestinError {
  override readonly name = 'ToolboxBaseError';
  constructor(base: string, said: string, cause?: unknown) {
    super(
      'TESTIN_TOOLBOX_BASE',
      `the toolbox's base image ${base} is not on the engine and cannot be pulled: ${said}`,
      `pull or build it (docker pull ${base}), pick another with --toolbox-base IMAGE (or TESTIN_TOOLBOX_BASE), or load a built toolbox: testin toolbox load FILE`,
      { cause },
    );
  }
}

/** a toolbox volume of a stable name (testin toolbox install) that another build holds and a container still uses */
export class VolumeInUseError extends TestinError {
  override readonly name = 'VolumeInUseError';
  constructor(volume: string, cause: unknown) {
    super(
      'TESTIN_VOLUME_IN_USE',
      `volume ${volume} holds another build and cannot be replaced: ${(cause as Error).message}`,
      'stop the containers that use it (docker-compose down) and run `testin toolbox install` again',
      { cause },
    );
  }
}

/** a toolbox that cannot be saved */
export class ToolboxSaveError extends TestinError {
  override readonly name = 'ToolboxSaveError';
  constructor(message: string, fix: string) {
    super('TESTIN_TOOLBOX_SAVE', message, fix);
  }
}

/** a user's kernel (--kernel, --modules, --initrd) that cannot be prepared or booted */
export class CustomKernelError extends TestinError {
  override readonly name = 'CustomKernelError';
  constructor(code: 'TESTIN_CUSTOM_KERNEL' | 'TESTIN_KERNEL_MODULES', message: string, fix: string) {
    super(code, message, fix);
  }
}

/** no session of that name on the engine */
export class NoSessionError extends TestinError {
  override readonly name = 'NoSessionError';
  constructor(name: string, cause: unknown) {
    super('TESTIN_NO_SESSION', `no session named ${name}: ${(cause as Error).message}`, 'list them with `testin ls`, start one with `testin up`', { cause });
  }
}

/** a session that did not start, or that was stopped before a command was asked of it */
export class SessionError extends TestinError {
  override readonly name = 'SessionError';
  constructor(code: 'TESTIN_SESSION_START' | 'TESTIN_SESSION_STOPPED', message: string, fix: string, cause?: unknown) {
    super(code, message, fix, { cause });
  }
}

/** a file or the kernel log of a session's VM that could not be read or written */
export class VmFileError extends TestinError {
  override readonly name = 'VmFileError';
  constructor(code: 'TESTIN_FILE' | 'TESTIN_DMESG', message: string, fix: string) {
    super(code, message, fix);
  }
}

/** testin-runtime (the OCI runtime) cannot turn a container into a VM's, or cannot be set up on this host */
export class RuntimeSetupError extends TestinError {
  override readonly name = 'RuntimeSetupError';
  constructor(message: string, fix: string, cause?: unknown) {
    super('TESTIN_RUNTIME', message, fix, { cause });
  }
}

/**
 * Expected failures: each has a stable code and a message whose last line says
 * what to do. The CLI prints the message alone (no stack) and exits 125.
 */
export class TestinError extends Error {
  override readonly name: string = 'TestinError';
  /** exit code the CLI uses, as docker run does for its own failures */
  readonly exitCode: number = 125;

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
  constructor(image: string, cause?: unknown) {
    super(
      'TESTIN_IMAGE_NOT_FOUND',
      `image "${image}" is not in the local docker engine`,
      `build it (docker build -t ${image} .) or pull it (docker pull ${image}) first`,
      { cause },
    );
  }
}

export class DockerUnreachableError extends TestinError {
  override readonly name = 'DockerUnreachableError';
  constructor(cause?: unknown) {
    super(
      'TESTIN_DOCKER_UNREACHABLE',
      `cannot reach the docker engine (${cause instanceof Error ? cause.message : String(cause)})`,
      'start dockerd (e.g. `systemctl start docker` or `dockerd &`), or set DOCKER_HOST',
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

/** The docker engine refused what testin asked for (a 4xx answer): a name in use, a network that does not exist... */
export class DockerRefusedError extends TestinError {
  override readonly name = 'DockerRefusedError';
  constructor(message: string, fix: string, cause?: unknown) {
    super('TESTIN_DOCKER_REFUSED', message, fix, { cause });
  }
}

/**
 * A docker API error of the user's making, as a one-line error with a fix;
 * undefined for anything else (a 5xx, a broken connection: those stay internal).
 */
export function dockerRefusal(error: unknown, context: { name?: string | undefined; network?: string | undefined }): DockerRefusedError | undefined {
  const e = error as { statusCode?: number; json?: { message?: string } | null; message?: string };
  if (typeof e?.statusCode !== 'number' || e.statusCode < 400 || e.statusCode >= 500) return undefined;
  const said = (e.json?.message ?? e.message ?? '').trim().replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '');
  if (e.statusCode === 409 && context.name && /already in use/.test(said)) {
    return new DockerRefusedError(`the container name "${context.name}" is already in use`, `pick another --name, or remove the old one: docker rm -f ${context.name} (testin down ${context.name} for a session)`, error);
  }
  if (e.statusCode === 404 && context.network && /network/.test(said)) {
    return new DockerRefusedError(`docker has no network "${context.network}"`, `create it (docker network create ${context.network}) or pick one of docker network ls`, error);
  }
  return new DockerRefusedError(`docker refused the run: ${said}`, 'check the flags against `testin run --help`', error);
}

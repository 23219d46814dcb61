import type { Readable, Writable } from 'node:stream';

/**
 * Docker behind one small interface (testcontainers' ContainerClient is the
 * model): one dockerode implementation in launcher/dockerode-client.ts; unit
 * tests fake it. Every stage that talks to the engine takes one of these.
 */
export interface DockerClient {
  ping(): Promise<void>;
  /** which engine this is: product, version, API version, rootless, local or remote (asked once) */
  engine(): Promise<EngineIdentity>;
  /** what the engine says of itself (docker info) */
  engineInfo(): Promise<EngineInfo>;
  /**
   * the engine closes a container's stdin (opened with `openStdin`) once the client attached to it
   * goes, killed or not (StdinOnce, as `docker run -i` has it): Docker does; Podman does not (podman#20267)
   */
  closesStdinWhenClientGoes(): Promise<boolean>;
  /** .Config and .Id of a local image; undefined when the engine has none of that name */
  inspectImage(name: string): Promise<ImageInfo | undefined>;
  /** pulls an image, reporting docker's progress events; rejects with docker's words */
  pullImage(name: string, onProgress?: (event: PullProgress) => void, auth?: PullAuth, platform?: string): Promise<void>;
  inspectVolume(name: string): Promise<VolumeInfo | undefined>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /** the volumes that carry this label (KEY or KEY=VALUE) */
  listVolumes(label: string): Promise<VolumeInfo[]>;
  createContainer(spec: ContainerSpec): Promise<ContainerHandle>;
  /** the containers (running or not) that carry this label, with all their labels */
  listContainersWithLabels(label: string): Promise<{ id: string; labels: Record<string, string> }[]>;
  removeContainer(id: string): Promise<void>;
  /** a container that exists already, by id or name */
  getContainer(idOrName: string): ContainerHandle;
  /** makes sure a local image exists, importing it from a tar stream when it does not */
  ensureImportedImage(name: string, tar: () => Promise<NodeJS.ReadableStream>): Promise<void>;
}

/** The engine testin talks to. Every difference between engines is handled behind this interface, never by its callers. */
export interface EngineIdentity {
  product: 'docker' | 'podman';
  version: string;
  /** the Engine API version testin speaks to it (negotiated, or DOCKER_API_VERSION) */
  apiVersion: string;
  /** the engine's newest API version */
  engineApiVersion: string;
  rootless: boolean;
  /** reached over TCP or SSH: it shares no file with this client */
  remote: boolean;
  /** where: DOCKER_HOST, or the local socket */
  endpoint: string;
  /** it takes a seccomp profile inline in SecurityOpt (Docker); Podman reads a file of its host there */
  seccompInline: boolean;
  /** the architecture of the engine's host as it says it (x86_64, aarch64); TESTIN_ENGINE_ARCH stands in for it (tests of an arm64 engine under emulation) */
  architecture: string;
}

export interface EngineInfo {
  serverVersion: string;
  /** '1' or '2' */
  cgroupVersion: string;
  /** name=seccomp,profile=builtin; name=rootless; name=userns ... */
  securityOptions: string[];
  dockerRootDir: string;
  operatingSystem: string;
  kernelVersion: string;
  ncpu: number;
  memTotal: number;
  /** the engine's machine as it says it: x86_64 (Docker), amd64 (Podman), aarch64, arm64 */
  architecture: string;
  /** the OCI runtimes the engine is configured with, by name: their executables (docker run --runtime NAME) */
  runtimes: Record<string, string>;
}

export interface ImageConfig {
  StopSignal?: string | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  ExposedPorts?: Record<string, unknown> | null;
  WorkingDir?: string;
  User?: string;
}

export interface ImageInfo {
  id: string;
  config: ImageConfig;
  /** the image's architecture (amd64, arm64), when its config says */
  architecture?: string | undefined;
}

/** a registry's credentials, as the engine takes them (X-Registry-Auth) */
export type PullAuth = { username: string; password: string; serveraddress: string } | { identitytoken: string; serveraddress: string };

/** one event of `docker pull`'s progress stream */
export interface PullProgress {
  id?: string;
  status: string;
  current?: number;
  total?: number;
}

export interface VolumeInfo {
  name: string;
  createdAt: string;
  labels: Record<string, string>;
  /** where the volume's files are on the engine's host */
  mountpoint?: string | undefined;
}

export interface ContainerMount {
  type: 'bind' | 'volume';
  /** host path, volume name, or undefined for an anonymous volume */
  source?: string | undefined;
  target: string;
  readOnly: boolean;
}

export interface ContainerSpec {
  image: string;
  name?: string | undefined;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  labels: Record<string, string>;
  mounts: ContainerMount[];
  /** docker -v binds (SRC:DST[:ro]): unlike a bind mount, the engine creates a missing source folder */
  binds?: string[] | undefined;
  tmpfs: Record<string, string>;
  capAdd: string[];
  devices: string[];
  securityOpt: string[];
  /**
   * a seccomp profile: given inline to an engine that takes it so (Docker), by path to one that
   * takes a file of its host (Podman), where `file` is that profile inside a volume
   */
  seccomp?: { profile: object; file: { volume: string; path: string } } | undefined;
  openStdin: boolean;
  tty?: boolean | undefined;
  hostname?: string | undefined;
  domainname?: string | undefined;
  networkMode?: string | undefined;
  /** docker's legacy links: NAME[:ALIAS] */
  links?: readonly string[] | undefined;
  /** on networkMode (a user-defined network): more names, and the addresses chosen for the container */
  endpoint?: { aliases?: readonly string[] | undefined; ipv4?: string | undefined; ipv6?: string | undefined } | undefined;
  exposedPorts?: Record<string, Record<string, never>>;
  portBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
  extraHosts?: readonly string[] | undefined;
  /** seconds docker stop waits before SIGKILL */
  stopTimeout?: number | undefined;
  /** what docker stop sends first; @default the image's STOPSIGNAL, else SIGTERM */
  stopSignal?: string | undefined;
  workingDir?: string | undefined;
  user?: string | undefined;
  /** docker run --rm: the engine removes the container once it has exited (a client that died leaves nothing) */
  autoRemove?: boolean | undefined;
  /** --dns, --dns-search, --dns-option: the container's resolv.conf */
  dns?: { servers?: readonly string[] | undefined; search?: readonly string[] | undefined; options?: readonly string[] | undefined } | undefined;
  /** sysctls and /dev/shm's size of the container itself (a run without a VM) */
  sysctls?: Record<string, string> | undefined;
  shmSizeBytes?: number | undefined;
  /** --pids-limit of a run without a VM (a VM's is its own cgroup's) */
  pidsLimit?: number | undefined;
  /** docker's --cpus as CPU time (a fraction's: the VM's vCPUs are rounded up) */
  nanoCpus?: number | undefined;
}

/** a mount of a container as the engine reports it (docker inspect's Mounts) */
export interface ContainerMountInfo {
  type: string;
  /** a volume's name */
  name?: string | undefined;
  /** a bind's host path (a volume's: where the engine keeps it) */
  source: string;
  destination: string;
  rw: boolean;
}

export interface ContainerHandle {
  id: string;
  /** attaches before start; resolves once attached, `ended` resolves when the output stream ends */
  attach(io: { stdout: Writable; stderr: Writable; stdin?: Readable | undefined }): Promise<{ ended: Promise<void> }>;
  start(): Promise<void>;
  /** the exit code of the container's next (or current) end */
  wait(): Promise<number>;
  kill(signal: string): Promise<void>;
  /** docker stop: the stop signal, then SIGKILL after the container's stop timeout; resolves once it is not running */
  stop(): Promise<void>;
  /** size of the container's tty */
  resize(rows: number, cols: number): Promise<void>;
  /** extracts a tar stream at `path` (a folder that exists in the container); works before start */
  putArchive(tar: NodeJS.ReadableStream, path: string): Promise<void>;
  /** a tar stream of `path`; works on a stopped container; undefined when the path does not exist */
  getArchive(path: string): Promise<NodeJS.ReadableStream | undefined>;
  pathExists(path: string): Promise<boolean>;
  remove(): Promise<void>;
  /** runs a process in the running container (docker exec) */
  exec(spec: { cmd: string[]; env: string[]; stdin: boolean; tty: boolean }): Promise<ExecHandle>;
  /** what the container printed so far (stdout and stderr together, as text) */
  logs(options?: { tail?: number }): Promise<string>;
  /** resolves when a line containing `marker` appears in the container's output; rejects after timeoutMs or when it stops */
  waitForOutput(marker: string, timeoutMs: number, onLine?: (line: string) => void): Promise<void>;
  /** pid: the container's first process as the engine's host sees it (0 when it is not running) */
  inspect(): Promise<{ running: boolean; exitCode: number; name: string; image: string; labels: Record<string, string>; created: string; pid: number; hostname: string; mounts: ContainerMountInfo[] }>;
}

export interface ExecHandle {
  /** the exec'd process, as the host sees it (to signal it) */
  pid(): Promise<number>;
  /**
   * streams output into the writables and stdin from the readable; resolves with the exit code.
   * background: the connection does not keep this process alive (a lease that lasts as long as the process)
   */
  run(io: { stdout: Writable; stderr: Writable; stdin?: Readable | undefined; background?: boolean }): Promise<number>;
}

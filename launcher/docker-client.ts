import Docker from 'dockerode';
import type { Readable, Writable } from 'node:stream';
import type { ContainerMount } from '../volumes/volume-mapping.js';
import type { ImageConfig } from './build-plan.js';

/** Docker behind one small interface: one dockerode implementation; unit tests fake it. */
export interface DockerClient {
  ping(): Promise<void>;
  inspectImage(name: string): Promise<ImageConfig | undefined>;
  inspectVolume(name: string): Promise<{ createdAt: string; labels: Record<string, string> } | undefined>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /** names of the volumes that carry this label */
  listVolumes(label: string): Promise<string[]>;
  createContainer(spec: ContainerSpec): Promise<ContainerHandle>;
  /** the containers (running or not) that carry this label, with all their labels */
  listContainersWithLabels(label: string): Promise<{ id: string; labels: Record<string, string> }[]>;
  removeContainer(id: string): Promise<void>;
  /** a container that exists already, by id or name */
  getContainer(idOrName: string): ContainerHandle;
  /** makes sure a local image exists, importing it from a tar stream when it does not */
  ensureImportedImage(name: string, tar: () => Promise<NodeJS.ReadableStream>): Promise<void>;
}

export interface ContainerSpec {
  image: string;
  name?: string | undefined;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  labels: Record<string, string>;
  mounts: ContainerMount[];
  tmpfs: Record<string, string>;
  capAdd: string[];
  devices: string[];
  securityOpt: string[];
  openStdin: boolean;
  tty?: boolean | undefined;
  hostname?: string | undefined;
  networkMode?: string | undefined;
  exposedPorts?: Record<string, Record<string, never>>;
  portBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
  extraHosts?: readonly string[] | undefined;
  /** seconds docker stop waits before SIGKILL */
  stopTimeout?: number | undefined;
}

export interface ContainerHandle {
  id: string;
  /** attaches before start; resolves once attached, `ended` resolves when the output stream ends */
  attach(io: { stdout: Writable; stderr: Writable; stdin?: Readable | undefined }): Promise<{ ended: Promise<void> }>;
  start(): Promise<void>;
  wait(): Promise<number>;
  kill(signal: string): Promise<void>;
  /** size of the container's tty */
  resize(rows: number, cols: number): Promise<void>;
  putArchive(tar: NodeJS.ReadableStream, path: string): Promise<void>;
  pathExists(path: string): Promise<boolean>;
  remove(): Promise<void>;
  /** runs a process in the running container (docker exec) */
  exec(spec: { cmd: string[]; env: string[]; stdin: boolean; tty: boolean }): Promise<ExecHandle>;
  /** resolves when a line containing `marker` appears in the container's output; rejects after timeoutMs or when it stops */
  waitForOutput(marker: string, timeoutMs: number): Promise<void>;
  /** pid: the container's first process as the engine's host sees it (0 when it is not running) */
  inspect(): Promise<{ running: boolean; name: string; image: string; labels: Record<string, string>; created: string; pid: number; hostname: string }>;
}

export interface ExecHandle {
  /** the exec'd process, as the host sees it (to signal it) */
  pid(): Promise<number>;
  /** streams output into the writables and stdin from the readable; resolves with the exit code */
  run(io: { stdout: Writable; stderr: Writable; stdin?: Readable | undefined }): Promise<number>;
}

const isNotFound = (error: unknown): boolean => (error as { statusCode?: number }).statusCode === 404;

export function createDockerClient(docker: Docker = new Docker()): DockerClient {
  return {
    async ping() {
      await docker.ping();
    },
    async inspectImage(name) {
      try {
        const info = await docker.getImage(name).inspect();
        return (info.Config ?? {}) as ImageConfig;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async inspectVolume(name) {
      try {
        const info = (await docker.getVolume(name).inspect()) as { CreatedAt?: string; Labels?: Record<string, string> | null };
        return { createdAt: info.CreatedAt ?? '', labels: info.Labels ?? {} };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async createVolume(name, labels) {
      await docker.createVolume({ Name: name, Labels: labels });
    },
    async removeVolume(name) {
      try {
        await docker.getVolume(name).remove({ force: true });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
    async listVolumes(label) {
      const { Volumes } = (await docker.listVolumes({ filters: { label: [label] } })) as { Volumes: { Name: string }[] | null };
      return (Volumes ?? []).map((v) => v.Name);
    },
    async createContainer(spec) {
      const container = await docker.createContainer({
        Image: spec.image,
        ...(spec.name ? { name: spec.name } : {}),
        Entrypoint: spec.entrypoint,
        Cmd: spec.cmd,
        Env: spec.env,
        Labels: spec.labels,
        AttachStdin: spec.openStdin,
        AttachStdout: true,
        AttachStderr: true,
        OpenStdin: spec.openStdin,
        StdinOnce: spec.openStdin,
        Tty: spec.tty ?? false,
        ...(spec.hostname ? { Hostname: spec.hostname } : {}),
        ...(spec.exposedPorts ? { ExposedPorts: spec.exposedPorts } : {}),
        ...(spec.stopTimeout === undefined ? {} : { StopTimeout: spec.stopTimeout }),
        HostConfig: {
          Mounts: spec.mounts.map((m) => ({ Type: m.type, Source: m.source ?? '', Target: m.target, ReadOnly: m.readOnly })),
          Tmpfs: spec.tmpfs,
          CapAdd: spec.capAdd,
          Devices: spec.devices.map((d) => ({ PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm' })),
          SecurityOpt: spec.securityOpt,
          ...(spec.networkMode ? { NetworkMode: spec.networkMode } : {}),
          ...(spec.portBindings ? { PortBindings: spec.portBindings } : {}),
          ...(spec.extraHosts?.length ? { ExtraHosts: [...spec.extraHosts] } : {}),
        },
      });
      return wrapContainer(docker, container, spec.tty ?? false);
    },
    async listContainersWithLabels(label) {
      const list = await docker.listContainers({ all: true, filters: { label: [label] } });
      return list.map((c) => ({ id: c.Id, labels: c.Labels ?? {} }));
    },
    getContainer(idOrName) {
      return wrapContainer(docker, docker.getContainer(idOrName), false);
    },
    async removeContainer(id) {
      await removeQuietly(docker.getContainer(id));
    },
    async ensureImportedImage(name, tar) {
      try {
        await docker.getImage(name).inspect();
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      const [repo, tag = 'latest'] = name.split(':') as [string, string?];
      const stream = await docker.importImage((await tar()) as unknown as string, { repo, tag });
      await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
    },
  };
}

async function removeQuietly(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    // already gone, or already being removed: both fine
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw error;
  }
}

function wrapContainer(docker: Docker, container: Docker.Container, tty: boolean): ContainerHandle {
  return {
    id: container.id,
    async attach(io) {
      const stream = (await container.attach({ stream: true, stdout: true, stderr: true, stdin: io.stdin !== undefined, hijack: io.stdin !== undefined })) as NodeJS.ReadWriteStream;
      // with a tty docker sends one raw stream; without, stdout and stderr multiplexed
      if (tty) stream.pipe(io.stdout, { end: false });
      else docker.modem.demuxStream(stream, io.stdout, io.stderr);
      if (io.stdin) {
        io.stdin.pipe(stream as unknown as Writable);
      }
      const ended = new Promise<void>((resolve) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', () => resolve());
      });
      return { ended };
    },
    async start() {
      await container.start();
    },
    async wait() {
      const result = (await container.wait({ condition: 'next-exit' })) as { StatusCode: number };
      return result.StatusCode;
    },
    async resize(rows, cols) {
      try {
        await container.resize({ h: rows, w: cols });
      } catch {
        // not running (yet or any more)
      }
    },
    async kill(signal) {
      try {
        await container.kill({ signal });
      } catch {
        // not running any more: nothing to signal
      }
    },
    async putArchive(tar, path) {
      await container.putArchive(tar as unknown as string, { path });
    },
    async pathExists(path) {
      try {
        await container.infoArchive({ path });
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },
    async remove() {
      await removeQuietly(container);
    },
    async exec(spec) {
      const exec = await container.exec({
        Cmd: spec.cmd,
        Env: spec.env,
        AttachStdin: spec.stdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: spec.tty,
      });
      return {
        async pid() {
          return ((await exec.inspect()) as { Pid: number }).Pid;
        },
        async run(io) {
          const stream = (await exec.start({ hijack: true, stdin: spec.stdin, Tty: spec.tty })) as NodeJS.ReadWriteStream;
          const ended = new Promise<void>((resolve) => {
            stream.on('end', resolve);
            stream.on('close', resolve);
            stream.on('error', () => resolve());
          });
          if (spec.tty) stream.pipe(io.stdout, { end: false });
          else docker.modem.demuxStream(stream, io.stdout, io.stderr);
          if (io.stdin) io.stdin.pipe(stream as unknown as Writable);
          else if (spec.stdin) (stream as unknown as Writable).end();
          await ended;
          return ((await exec.inspect()) as { ExitCode: number | null }).ExitCode ?? 125;
        },
      };
    },
    async waitForOutput(marker, timeoutMs) {
      const stream = (await container.logs({ follow: true, stdout: true, stderr: true })) as NodeJS.ReadableStream & { destroy(): void };
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        const timer = setTimeout(() => finish(new Error(`no "${marker}" within ${timeoutMs / 1000} s`)), timeoutMs);
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          stream.destroy();
          if (error) reject(error);
          else resolve();
        };
        stream.on('data', (chunk: Buffer) => {
          seen = (seen + chunk.toString('latin1')).slice(-65536);
          if (seen.includes(marker)) finish();
        });
        stream.on('end', () => finish(new Error(`the container stopped before "${marker}"; it printed:\n${seen.replace(/[\x00-\x08]/g, '').slice(-2000)}`)));
      });
    },
    async inspect() {
      const info = await container.inspect();
      return {
        running: info.State.Running,
        name: info.Name.replace(/^\//, ''),
        image: info.Config.Image,
        labels: info.Config.Labels ?? {},
        created: info.Created,
        pid: info.State.Pid ?? 0,
        hostname: info.Config.Hostname ?? '',
      };
    },
  };
}

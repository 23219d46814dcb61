import Docker from 'dockerode';
import { Agent, globalAgent, type AgentOptions, type IncomingMessage } from 'node:http';
import { inspect } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import type { ContainerHandle, ContainerSpec, DockerClient, ExecHandle, ImageConfig, PullProgress } from '../contract/docker-client.js';
import { engineError } from './docker-refusal.js';
import { EXIT_TESTIN_FAILED } from '../contract/exit-codes.js';
import { engineIdentity, engineInfoOf, isPodman, negotiateApiVersion, versionFromPing, type InfoResponse, type PingAnswer, type VersionResponse } from './engine-identity.js';

const isNotFound = (error: unknown): boolean => (error as { statusCode?: number }).statusCode === 404;

/** what testin asked the engine to do, by method: the words of an error when it refuses */
const CLIENT_DOING: { [K in keyof DockerClient]: string | undefined } = {
  ping: 'answer',
  engine: 'say what it is (docker version)',
  engineInfo: 'say what it is (docker info)',
  closesStdinWhenClientGoes: 'say what it is (docker version)',
  inspectImage: 'inspect the image',
  pullImage: 'pull the image',
  inspectVolume: 'inspect a volume',
  createVolume: 'create a volume',
  removeVolume: 'remove a volume',
  listVolumes: 'list volumes',
  createContainer: 'create the container',
  listContainersWithLabels: 'list containers',
  removeContainer: 'remove a container',
  getContainer: undefined,
  ensureImportedImage: "import testin's helper image",
};

const CONTAINER_DOING: { [K in keyof ContainerHandle]: string | undefined } = {
  id: undefined,
  attach: 'attach to the container',
  start: 'start the container',
  wait: 'wait for the container',
  kill: 'signal the container',
  stop: 'stop the container',
  resize: 'resize the container\'s terminal',
  putArchive: 'copy files into the container',
  getArchive: 'copy files out of the container',
  pathExists: 'look into the container',
  remove: 'remove the container',
  exec: 'run a process in the container (docker exec)',
  logs: "read the container's output",
  waitForOutput: "follow the container's output",
  inspect: 'inspect the container',
};

/**
 * Every engine call of `impl` whose name `doing` lists, with its failure told as
 * testin tells engine errors (docker-refusal.ts): one line of what the engine
 * refused or could not do, and a fix; never a raw API error.
 */
function guarded<T extends object>(impl: T, doing: { [K in keyof T]: string | undefined }, ready?: () => Promise<unknown>): T {
  const out = { ...impl };
  for (const key of Object.keys(impl) as (keyof T)[]) {
    const value = impl[key];
    const what = doing[key];
    if (typeof value !== 'function' || what === undefined) continue;
    out[key] = (async (...args: unknown[]) => {
      try {
        await ready?.();
        return await (value as (...a: unknown[]) => Promise<unknown>).apply(impl, args);
      } catch (error) {
        throw engineError(error, what);
      }
    }) as T[keyof T];
  }
  return out;
}

/**
 * dockerode's client, from the environment (DOCKER_HOST and the rest). Over plain HTTP (a unix
 * socket, tcp://) its requests go through an agent that names no TLS server: node's default agent
 * works one out for every request and checks it with net.isIP, whose first call compiles node's
 * IPv6 pattern (~11 ms of every run's start in a CPU profile here), for a name only TLS uses.
 */
export function engineFromEnvironment(): Docker {
  const docker = new Docker();
  const modem = docker.modem as { protocol?: string; agent?: unknown };
  if (modem.protocol === 'http') {
    // node's own agent's options (keep-alive, lifo, its timeout), and no server name
    const options = (globalAgent as unknown as { options: AgentOptions }).options;
    const agent = new Agent({ ...options, servername: '' } as AgentOptions);
    // docker-modem formats each request's options, agent included, at any depth for its debug log
    // even while the log is off: the agent is one word there, not its sockets, streams and handles
    // (walking them was ~15 ms of a run's first requests)
    Object.defineProperty(agent, inspect.custom, { value: () => 'Agent { servername: "" }' });
    modem.agent = agent;
  }
  return docker;
}

export function createDockerClient(docker: Docker = engineFromEnvironment(), env: NodeJS.ProcessEnv = process.env): DockerClient {
  const once = <T>(load: () => Promise<T>): (() => Promise<T>) => {
    let value: Promise<T> | undefined;
    return () => {
      value ??= load();
      value.catch(() => (value = undefined));
      return value;
    };
  };
  /** the engine's first answer, the ping's headers: most often they say all testin asks /version (versionFromPing) */
  const pinged = once(
    () =>
      new Promise<PingAnswer>((resolve, reject) => {
        docker.modem.dial({ path: '/_ping', method: 'GET', isStream: true, statusCodes: { 200: true, 500: 'server error' } }, (error, answer) => {
          if (error) return reject(error);
          const res = answer as IncomingMessage;
          res.resume();
          const header = (name: string): string | undefined => [res.headers[name]].flat()[0];
          resolve({ apiVersion: header('api-version'), server: header('server') });
        });
      }),
  );
  const version = once(async () => versionFromPing(await pinged()) ?? ((await docker.version()) as VersionResponse));
  /**
   * Every call in the API version negotiated with the engine (DOCKER_API_VERSION when set, as the
   * docker CLI): the answers keep the shapes testin reads on an engine newer than testin.
   */
  const api = once(async () => {
    const pinned = negotiateApiVersion(await version(), env);
    // docker-modem prefixes each path with its `version` (a constructor option its types omit on the instance)
    if (pinned) (docker.modem as { version?: string }).version = `v${pinned}`;
    return pinned;
  });
  const engine = once(async () => {
    const [v, info] = await Promise.all([version(), api().then(() => docker.info() as Promise<InfoResponse>)]);
    return engineIdentity(v, info, env);
  });
  /** the security options as this engine takes them: Podman reads a seccomp profile from a path of its host, Docker takes it inline */
  const securityOpt = async (spec: ContainerSpec): Promise<string[]> => {
    if (!spec.seccomp) return spec.securityOpt;
    if (!isPodman(await version())) return [...spec.securityOpt, `seccomp=${JSON.stringify(spec.seccomp.profile)}`];
    const volume = await docker.getVolume(spec.seccomp.file.volume).inspect() as { Mountpoint?: string };
    return [...spec.securityOpt, `seccomp=${volume.Mountpoint}/${spec.seccomp.file.path}`];
  };
  return guarded<DockerClient>({
    async ping() {
      // the engine's first answer serves both: an engine that answers, and the API version (one round trip fewer)
      await pinged();
    },
    engine,
    async engineInfo() {
      return engineInfoOf((await docker.info()) as InfoResponse);
    },
    async closesStdinWhenClientGoes() {
      return !isPodman(await version());
    },
    async inspectImage(name) {
      try {
        const info = await docker.getImage(name).inspect();
        return { id: info.Id, config: (info.Config ?? {}) as ImageConfig, architecture: info.Architecture || undefined };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async inspectVolume(name) {
      try {
        const info = (await docker.getVolume(name).inspect()) as { Name: string; CreatedAt?: string; Labels?: Record<string, string> | null };
        return { name: info.Name, createdAt: info.CreatedAt ?? '', labels: info.Labels ?? {}, mountpoint: (info as { Mountpoint?: string }).Mountpoint };
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
      const { Volumes } = (await docker.listVolumes({ filters: { label: [label] } })) as { Volumes: { Name: string; CreatedAt?: string; Labels?: Record<string, string> | null }[] | null };
      return (Volumes ?? []).map((v) => ({ name: v.Name, createdAt: v.CreatedAt ?? '', labels: v.Labels ?? {} }));
    },
    async pullImage(name, onProgress, auth, platform) {
      const stream = (await docker.pull(name, { ...(auth ? { authconfig: auth } : {}), ...(platform ? { platform } : {}) })) as NodeJS.ReadableStream;
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(
          stream,
          (err: Error | null, events: { error?: string }[] = []) => {
            const failed = events.find((e) => e.error);
            if (err || failed) reject(err ?? new Error(failed?.error));
            else resolve();
          },
          (event: PullProgress & { progressDetail?: { current?: number; total?: number } }) =>
            onProgress?.({ id: event.id, status: event.status, current: event.progressDetail?.current, total: event.progressDetail?.total }),
        ),
      );
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
        ...(spec.domainname ? { Domainname: spec.domainname } : {}),
        ...(spec.exposedPorts ? { ExposedPorts: spec.exposedPorts } : {}),
        ...(spec.stopTimeout === undefined ? {} : { StopTimeout: spec.stopTimeout }),
        ...(spec.stopSignal === undefined ? {} : { StopSignal: spec.stopSignal }),
        ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
        ...(spec.user ? { User: spec.user } : {}),
        ...endpointConfig(spec),
        HostConfig: {
          ...(spec.binds?.length ? { Binds: spec.binds } : {}),
          ...(spec.autoRemove ? { AutoRemove: true } : {}),
          Mounts: spec.mounts.map((m) => ({ Type: m.type, Source: m.source ?? '', Target: m.target, ReadOnly: m.readOnly })),
          Tmpfs: spec.tmpfs,
          CapAdd: spec.capAdd,
          Devices: spec.devices.map((d) => ({ PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm' })),
          SecurityOpt: await securityOpt(spec),
          ...(spec.networkMode ? { NetworkMode: spec.networkMode } : {}),
          ...(spec.links?.length ? { Links: [...spec.links] } : {}),
          ...(spec.portBindings ? { PortBindings: spec.portBindings } : {}),
          ...(spec.extraHosts?.length ? { ExtraHosts: [...spec.extraHosts] } : {}),
          ...(spec.dns?.servers?.length ? { Dns: [...spec.dns.servers] } : {}),
          ...(spec.dns?.search?.length ? { DnsSearch: [...spec.dns.search] } : {}),
          ...(spec.dns?.options?.length ? { DnsOptions: [...spec.dns.options] } : {}),
          ...(spec.sysctls ? { Sysctls: spec.sysctls } : {}),
          ...(spec.shmSizeBytes ? { ShmSize: spec.shmSizeBytes } : {}),
          ...(spec.pidsLimit !== undefined ? { PidsLimit: spec.pidsLimit } : {}),
          ...(spec.nanoCpus ? { NanoCpus: spec.nanoCpus } : {}),
        },
      });
      return wrapContainer(docker, container, spec.tty ?? false, api);
    },
    async listContainersWithLabels(label) {
      const list = await docker.listContainers({ all: true, filters: { label: [label] } });
      return list.map((c) => ({ id: c.Id, labels: c.Labels ?? {} }));
    },
    getContainer(idOrName) {
      return wrapContainer(docker, docker.getContainer(idOrName), false, api);
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
      // the whole name as repo (docker's API takes a tag in it; Podman's ignores a separate tag)
      const stream = await docker.importImage((await tar()) as unknown as string, { repo: name });
      await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
    },
  }, CLIENT_DOING, api);
}

async function removeQuietly(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    // already gone: fine; already being removed (the engine's AutoRemove): wait until it is gone, so that
    // nothing of the run is left when its caller returns
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 409) return void (await untilGone(container));
    if (status !== 404) throw error;
  }
}

/** how long a removal the engine has begun may take before the caller goes on (it is then the engine's) */
const REMOVAL_WAIT_MS = 30_000;

async function untilGone(container: Docker.Container): Promise<void> {
  const deadline = Date.now() + REMOVAL_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      await container.inspect();
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function wrapContainer(docker: Docker, container: Docker.Container, tty: boolean, ready: () => Promise<unknown>): ContainerHandle {
  return guarded<ContainerHandle>({
    id: container.id,
    async attach(io) {
      const stdin = io.stdin !== undefined;
      // the options in the query, and an empty body of a stated length: Podman writes a request's body into
      // the container's stdin (dockerode sends the options as a JSON body too, which Docker ignores), and
      // waits for a chunked body to end before it attaches
      const stream = await new Promise<NodeJS.ReadWriteStream>((resolve, reject) =>
        docker.modem.dial(
          {
            path: `/containers/${container.id}/attach?`,
            method: 'POST',
            isStream: true,
            hijack: stdin,
            openStdin: stdin,
            statusCodes: { 200: true, 101: true, 404: 'no such container', 500: 'server error' },
            options: { stream: true, stdout: true, stderr: true, stdin },
            file: Buffer.alloc(0),
          } as Parameters<typeof docker.modem.dial>[0],
          (error: unknown, s: unknown) => (error ? reject(error) : resolve(s as NodeJS.ReadWriteStream)),
        ),
      );
      return { ended: wireStreams(docker, stream, tty, io) };
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
    async stop() {
      try {
        await container.stop();
      } catch (error) {
        // 304: not running; 404: gone
        if ((error as { statusCode?: number }).statusCode !== 304 && !isNotFound(error)) throw error;
      }
    },
    async putArchive(tar, path) {
      await container.putArchive(tar as unknown as string, { path });
    },
    async getArchive(path) {
      try {
        return (await container.getArchive({ path })) as NodeJS.ReadableStream;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
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
      return guarded<ExecHandle>({
        async pid() {
          return ((await exec.inspect()) as { Pid: number }).Pid;
        },
        async run(io) {
          const stream = (await exec.start({ hijack: true, stdin: spec.stdin, Tty: spec.tty })) as NodeJS.ReadWriteStream & { unref?: () => void };
          if (io.background) stream.unref?.();
          const ended = wireStreams(docker, stream, spec.tty, io);
          // asked for stdin but given none: EOF at once
          if (!io.stdin && spec.stdin) (stream as unknown as Writable).end();
          await ended;
          return ((await exec.inspect()) as { ExitCode: number | null }).ExitCode ?? EXIT_TESTIN_FAILED;
        },
      }, { pid: 'inspect a process in the container', run: 'run a process in the container (docker exec)' });
    },
    async logs(options = {}) {
      const data = (await container.logs({ stdout: true, stderr: true, follow: false, ...(options.tail ? { tail: options.tail } : {}) })) as unknown as Buffer;
      return tty ? data.toString('utf8') : demuxed(data);
    },
    async waitForOutput(marker, timeoutMs, onLine) {
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
          const at = seen.indexOf(marker);
          const end = at < 0 ? -1 : seen.indexOf('\n', at);
          if (end < 0) return;
          onLine?.(seen.slice(at, end));
          finish();
        });
        // biome-ignore lint/suspicious/noControlCharactersInRegex: docker's log frame headers are control bytes
        stream.on('end', () => finish(new Error(`the container stopped before "${marker}"; it printed:\n${seen.replace(/[\x00-\x08]/g, '').slice(-2000)}`)));
      });
    },
    async inspect() {
      const info = await container.inspect();
      return {
        running: info.State.Running,
        exitCode: info.State.ExitCode ?? 0,
        name: info.Name.replace(/^\//, ''),
        image: info.Config.Image,
        labels: info.Config.Labels ?? {},
        created: info.Created,
        pid: info.State.Pid ?? 0,
        hostname: info.Config.Hostname ?? '',
        mounts: (info.Mounts ?? []).map((m) => ({ type: m.Type, name: m.Name, source: m.Source, destination: m.Destination, rw: m.RW })),
      };
    },
  }, CONTAINER_DOING, ready);
}

/** docker's multiplexed log format without a tty: 8-byte headers (stream, size) before each chunk */
function demuxed(data: Buffer): string {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 8 <= data.length) {
    const size = data.readUInt32BE(off + 4);
    parts.push(data.subarray(off + 8, off + 8 + size));
    off += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * The one way a container's or an exec's stream is wired: with a tty docker
 * sends one raw stream, without one stdout and stderr multiplexed; stdin goes
 * the other way. Resolves when the stream has ended.
 */
function wireStreams(docker: Docker, stream: NodeJS.ReadWriteStream, tty: boolean, io: { stdout: Writable; stderr: Writable; stdin?: Readable | undefined }): Promise<void> {
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
  if (tty) stream.pipe(io.stdout, { end: false });
  else docker.modem.demuxStream(stream, io.stdout, io.stderr);
  // on a terminal the end of input is a key (Ctrl-D), not the connection's end: an attach whose stdin
  // ended (a stdin at its end at once, `< /dev/null`) stays open for the output, which it lost before
  if (io.stdin) io.stdin.pipe(stream as unknown as Writable, { end: !tty });
  return ended;
}

/** NetworkingConfig for --network-alias, --ip and --ip6 on the container's network (none: the engine's defaults) */
function endpointConfig(spec: ContainerSpec): { NetworkingConfig?: { EndpointsConfig: Record<string, object> } } {
  const { endpoint, networkMode } = spec;
  if (!networkMode || !endpoint || (!endpoint.aliases?.length && !endpoint.ipv4 && !endpoint.ipv6)) return {};
  const ipam = { ...(endpoint.ipv4 ? { IPv4Address: endpoint.ipv4 } : {}), ...(endpoint.ipv6 ? { IPv6Address: endpoint.ipv6 } : {}) };
  return {
    NetworkingConfig: {
      EndpointsConfig: {
        [networkMode]: { ...(endpoint.aliases?.length ? { Aliases: [...endpoint.aliases] } : {}), ...(Object.keys(ipam).length ? { IPAMConfig: ipam } : {}) },
      },
    },
  };
}

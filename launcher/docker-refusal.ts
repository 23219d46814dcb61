/**
 * Whatever the engine says no to ends as one line saying what it refused and
 * one line with a fix (exit 125): never as an "internal error", which is kept
 * for testin's own bugs. The engine client turns every failed call into one of
 * these (engineError); a run names the refusals a user can fix (dockerRefusal).
 */
import { DockerRefusedError, DockerUnreachableError } from '../contract/errors.js';

/** connection errors: the engine went away (or never answered) */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EACCES']);

/** the calls by which a connection to the engine fails (a file's calls fail with the same codes) */
const SOCKET_CALLS = new Set(['connect', 'getaddrinfo', 'read', 'write', 'writev', 'shutdown']);

/** the engine's own words on one line, without docker-modem's "(HTTP code N) unexpected -" prefix */
function engineWords(error: { json?: { message?: string } | string | null; message?: string }): string {
  const json = typeof error.json === 'string' ? error.json : error.json?.message;
  return (json ?? error.message ?? '').trim().replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').replace(/\s*\n\s*/g, ' ').trim();
}

/** what to do about what the engine said: the known causes first, then a general way on */
export function fixFor(said: string): string {
  if (/rlimit|ulimit|RLIMIT_/i.test(said)) {
    return 'the engine cannot apply its default resource limits here: give it limits it may set (Podman: default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"] under [containers] in /etc/containers/containers.conf; dockerd: --default-ulimit), then run again';
  }
  if (/cgroups in hybrid mode not supported/i.test(said)) {
    return 'crun (Podman\'s default runtime) refuses hosts with both cgroup v1 and v2 mounted: use runc (runtime = "runc" under [engine] in /etc/containers/containers.conf, and the runc package), or boot the host with cgroup v2 only';
  }
  if (/\/dev\/net\/tun|slirp4netns|pasta|rootless netns/i.test(said)) {
    return "the rootless engine's network (slirp4netns or pasta) cannot open /dev/net/tun: make it usable by users (chmod 0666 /dev/net/tun, or load the tun module), or run with --network none";
  }
  // --ip / --ip6 on the engine's terms (before the IPv6 rule: its words may name IPv6)
  if (/does not belong to any of this network's subnets|user specified IP address is supported only/i.test(said)) {
    return "give --ip (--ip6) an address of the network's subnet (docker network inspect NET), on a network created with one (docker network create --subnet ...)";
  }
  // -p on a host port that is taken: docker's "Bind for 0.0.0.0:8080 failed: port is already allocated", Podman's "listen tcp4 :8080: bind: address already in use"
  const port = /port is already allocated|bind: address already in use/i.test(said) ? (/(?:Bind for|listen \w+)\s+\S*:(\d+)/i.exec(said)?.[1] ?? 'PORT') : undefined;
  if (port) return `the host's port ${port} is taken (docker ps --filter publish=${port} shows a container that holds it; else a process of the host does): publish on another (-p OTHER:CONTAINER_PORT), or let the engine pick a free one (-p CONTAINER_PORT)`;
  if (/address already in use|address.*already (allocated|in use)/i.test(said) && !/bind|port/i.test(said)) return 'another container on the network has that address: pick another --ip (--ip6)';
  if (/range of cpus is from/i.test(said)) return "a fraction of --cpus is CPU time of the engine's host, which has no more than that: give less, or a whole number (that many vCPUs, with no limit of time)";
  if (/could not get container for|cannot link to a non running container/i.test(said)) return 'start the container --link names first (docker ps shows it running), or drop --link (on a user-defined network its name resolves without one)';
  if (/ipv6/i.test(said)) return "the engine's network set-up failed on IPv6: fix the engine's network settings (dockerd: --ipv6=false, or DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1), or run with --network none";
  if (/invalid reference format/i.test(said)) return 'name the image as docker does, e.g. debian:12, myapp:dev or registry.example:5000/team/app (its path lowercase)';
  if (/no such image|image not known|image.*not found/i.test(said)) return 'an image testin needs is not on the engine (removed meanwhile?): run again, testin makes its own images again; pull or build an image of yours';
  if (/bind source path does not exist/i.test(said)) return "make the folder on the engine's host first, or use -v SRC:DST (docker makes a missing -v folder)";
  if (/no space left|disk quota/i.test(said)) return 'free space on the engine (docker system prune; testin toolbox prune removes old toolboxes)';
  if (/permission denied|operation not permitted|not permitted/i.test(said)) return 'the engine may not give a container what testin needs (CAP_SYS_ADMIN, mounts, /dev/kvm): `testin doctor` says which';
  return "see the engine's own words above; `testin doctor` checks what a run needs from the engine";
}

/**
 * An error of a call to the engine, as testin tells it: a refusal (any HTTP
 * answer that is not a success) or a lost connection; other errors unchanged.
 */
export function engineError(error: unknown, doing: string): unknown {
  if (error instanceof DockerRefusedError || error instanceof DockerUnreachableError) return error;
  const e = error as { statusCode?: unknown; code?: unknown; syscall?: unknown; json?: { message?: string } | null; message?: string } | null;
  if (typeof e?.statusCode === 'number') {
    const said = engineWords(e);
    return new DockerRefusedError(`the engine ${e.statusCode < 500 ? 'refused to' : 'could not'} ${doing}: ${said}`, fixFor(said), error, { statusCode: e.statusCode, said, doing });
  }
  // a file of the client's own (a rename, an open: ENOENT, EACCES) is no connection to the engine
  const onFile = typeof e?.syscall === 'string' && !SOCKET_CALLS.has(e.syscall);
  if (typeof e?.code === 'string' && CONNECTION_CODES.has(e.code) && !onFile) return new DockerUnreachableError(error);
  return error;
}

/**
 * The refusals a user can fix by the run's flags, in their terms (a name in
 * use, a network that does not exist); any other refusal as the engine said it.
 */
export function dockerRefusal(error: unknown, context: { name?: string | undefined; network?: string | undefined }): DockerRefusedError | undefined {
  const refused = engineError(error, 'run the container');
  if (!(refused instanceof DockerRefusedError)) return undefined;
  const { statusCode, said } = refused.engine ?? { said: '' };
  if (statusCode === 409 && context.name && /already in use/.test(said)) {
    return new DockerRefusedError(`the container name "${context.name}" is already in use`, `pick another --name, or remove the old one: docker rm -f ${context.name} (testin down ${context.name} for a session)`, error, refused.engine);
  }
  if (statusCode === 404 && context.network && /network/.test(said)) {
    return new DockerRefusedError(`docker has no network "${context.network}"`, `create it (docker network create ${context.network}) or pick one of docker network ls`, error, refused.engine);
  }
  return refused;
}

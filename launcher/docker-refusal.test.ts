import { describe, expect, it } from 'vitest';
import { DockerRefusedError, DockerUnreachableError } from '../contract/errors.js';
import { dockerRefusal, engineError } from './docker-refusal.js';

const apiError = (statusCode: number, message: string): Error & { statusCode: number; json: { message: string } } =>
  Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), { statusCode, json: { message } });

describe('dockerRefusal', () => {
  it('names a container name in use, with the way to free it', () => {
    const e = dockerRefusal(apiError(409, 'Conflict. The container name "/x" is already in use by container "abc".'), { name: 'x' });
    expect([e?.code, e?.message, e?.exitCode]).toEqual(['TESTIN_DOCKER_REFUSED', 'the container name "x" is already in use', 125]);
    expect(e?.fix).toMatch(/docker rm -f x/);
  });

  it('names a missing network, with how to make it', () => {
    const e = dockerRefusal(apiError(404, 'network nope not found'), { network: 'nope' });
    expect(e?.message).toBe('docker has no network "nope"');
    expect(e?.fix).toMatch(/docker network create nope/);
  });

  it("names a published host port that is taken, by docker's words and by Podman's, with where to look and what to publish on", () => {
    const docker = dockerRefusal(apiError(500, 'driver failed programming external connectivity on endpoint x (abc): Bind for 0.0.0.0:18080 failed: port is already allocated'), {});
    expect(docker?.fix).toMatch(/^the host's port 18080 is taken \(docker ps --filter publish=18080 .*-p OTHER:CONTAINER_PORT.*-p CONTAINER_PORT/);
    const podman = dockerRefusal(apiError(500, 'rootlessport listen tcp 0.0.0.0:8081: bind: address already in use'), {});
    expect(podman?.fix).toMatch(/^the host's port 8081 is taken/);
    // an --ip that another container holds is not a port
    expect(dockerRefusal(apiError(500, 'Address already in use'), {})?.fix).toMatch(/pick another --ip/);
  });

  it('names a refusal the engine told through the client, by its status and words', () => {
    const fromClient = engineError(apiError(409, 'Conflict. The container name "/x" is already in use by container "abc".'), 'create the container');
    expect(dockerRefusal(fromClient, { name: 'x' })?.message).toBe('the container name "x" is already in use');
  });

  it("passes the engine's own words for any other answer, and leaves errors not of the engine alone", () => {
    expect(dockerRefusal(apiError(400, 'invalid mount config'), {})?.message).toBe('the engine refused to run the container: invalid mount config');
    expect(dockerRefusal(new Error('socket hang up'), {})).toBeUndefined();
  });
});

describe('engineError', () => {
  it.each([
    [
      "an engine that cannot apply its rlimits (Podman's defaults without CAP_SYS_RESOURCE)",
      apiError(500, 'crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted: OCI permission denied'),
      'the engine could not start the container: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted: OCI permission denied',
      /default_ulimits/,
    ],
    [
      'an engine whose network set-up fails on IPv6',
      apiError(500, 'failed to set up container networking: failed to create endpoint x: Error response from daemon: IPv6 is disabled'),
      'the engine could not start the container: failed to set up container networking: failed to create endpoint x: Error response from daemon: IPv6 is disabled',
      /--ipv6=false/,
    ],
    [
      'an image testin made that the engine cannot find',
      apiError(404, 'no such image: docker.io/library/testin-helper:1: image not known'),
      'the engine refused to start the container: no such image: docker.io/library/testin-helper:1: image not known',
      /run again/,
    ],
    [
      "crun on a host with hybrid cgroups (Podman's default runtime here)",
      apiError(500, 'crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2: OCI runtime error'),
      'the engine could not start the container: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2: OCI runtime error',
      /runtime = "runc"/,
    ],
    [
      // rootless Podman 4.3 as it failed here, with /dev/net/tun mode 0600: its words (Go-quoted) mention IPv6, the cause is the tun device
      'a rootless network that cannot open /dev/net/tun',
      apiError(500, String.raw`/usr/bin/slirp4netns failed: "open(\"/dev/net/tun\"): Permission denied\nWARNING: Support for IPv6 is experimental\nchild failed(1)\n"`),
      String.raw`the engine could not start the container: /usr/bin/slirp4netns failed: "open(\"/dev/net/tun\"): Permission denied\nWARNING: Support for IPv6 is experimental\nchild failed(1)\n"`,
      /chmod 0666 \/dev\/net\/tun/,
    ],
    [
      // the same engine's words on the runs after that first failure
      'a rootless network left half-made',
      apiError(500, 'preparing container 4ce5 for attach: failed to mount runtime directory for rootless netns: no such file or directory'),
      'the engine could not start the container: preparing container 4ce5 for attach: failed to mount runtime directory for rootless netns: no such file or directory',
      /--network none/,
    ],
    [
      // Docker 20.10's words for --ip outside the network's subnet
      'an --ip the network has no room for',
      apiError(500, "Invalid address 10.9.9.9: It does not belong to any of this network's subnets"),
      "the engine could not start the container: Invalid address 10.9.9.9: It does not belong to any of this network's subnets",
      /--ip \(--ip6\) an address of the network's subnet/,
    ],
    [
      'an --ip another container holds',
      apiError(500, 'failed to set up container networking: Address already in use'),
      'the engine could not start the container: failed to set up container networking: Address already in use',
      /pick another --ip/,
    ],
    [
      'a --link to a container that is not running',
      apiError(400, 'Cannot link to a non running container: /db AS /x/database'),
      'the engine refused to start the container: Cannot link to a non running container: /db AS /x/database',
      /start the container --link names first/,
    ],
    [
      'a fraction of --cpus beyond the host',
      apiError(400, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'),
      'the engine refused to start the container: Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available',
      /a fraction of --cpus is CPU time of the engine's host/,
    ],
    ['a full disk', apiError(500, 'write /var/lib/docker/x: no space left on device'), 'the engine could not start the container: write /var/lib/docker/x: no space left on device', /docker system prune/],
  ])('%s: one line of what the engine said, one fix', (_what, raw, message, fix) => {
    const e = engineError(raw, 'start the container') as DockerRefusedError;
    expect(e).toBeInstanceOf(DockerRefusedError);
    expect([e.message, e.exitCode, e.message.includes('\n')]).toEqual([message, 125, false]);
    expect(e.fix).toMatch(fix);
  });

  it('a lost connection is an unreachable engine; other errors stay as they are', () => {
    expect(engineError(Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' }), 'x')).toBeInstanceOf(DockerUnreachableError);
    const bug = new TypeError('x is undefined');
    expect(engineError(bug, 'x')).toBe(bug);
  });

  it("a file of the client's own that is missing is not the engine gone (a rename's ENOENT, as two builds fetching node at once had)", () => {
    const onSocket = Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT', syscall: 'connect' });
    const onFile = Object.assign(new Error("ENOENT: no such file or directory, rename 'a.tmp' -> 'a'"), { code: 'ENOENT', syscall: 'rename' });
    expect(engineError(onSocket, 'x')).toBeInstanceOf(DockerUnreachableError);
    expect(engineError(onFile, 'x')).toBe(onFile);
  });
});

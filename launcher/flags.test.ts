import { describe, expect, it } from 'vitest';
import { notSupported, RUN_FLAGS } from './flags.js';
import { EXEC_FLAGS } from './commands/session-commands.js';

/** `docker run --help` of Docker 28.2, each flag by its long name and its short one */
const DOCKER_RUN_FLAGS = (
  'add-host a attach blkio-weight blkio-weight-device cap-add cap-drop cgroup-parent cgroupns cidfile cpu-period cpu-quota cpu-rt-period ' +
  'cpu-rt-runtime c cpu-shares cpus cpuset-cpus cpuset-mems d detach detach-keys device device-cgroup-rule device-read-bps device-read-iops ' +
  'device-write-bps device-write-iops disable-content-trust dns dns-option dns-search domainname entrypoint e env env-file expose gpus group-add ' +
  'health-cmd health-interval health-retries health-start-period health-timeout help h hostname init i interactive ip ip6 ipc isolation ' +
  'kernel-memory l label label-file link link-local-ip log-driver log-opt mac-address m memory memory-reservation memory-swap memory-swappiness ' +
  'mount name network network-alias no-healthcheck oom-kill-disable oom-score-adj pid pids-limit platform privileged p publish P publish-all ' +
  'pull q quiet read-only restart rm runtime security-opt shm-size sig-proxy stop-signal stop-timeout storage-opt sysctl tmpfs t tty ulimit ' +
  'use-api-socket u user userns uts v volume volume-driver volumes-from w workdir'
).split(' ');

describe("docker run's flags", () => {
  it('each one is taken (by its name or its short form), or refused with the reason', () => {
    const taken = new Set(['help', ...Object.keys(RUN_FLAGS), ...Object.values(RUN_FLAGS).flatMap((o) => (o.alias === undefined ? [] : [o.alias].flat()))]);
    const neither = DOCKER_RUN_FLAGS.filter((flag) => !taken.has(flag) && notSupported(flag) === undefined);
    expect(neither).toEqual([]);
    // and no flag is both
    expect(DOCKER_RUN_FLAGS.filter((flag) => taken.has(flag) && notSupported(flag) !== undefined)).toEqual([]);
  });

  it('names the flag as it was typed, with its reason', () => {
    expect(notSupported('gpus')).toBe('--gpus: not supported by testin: a VM sees no GPU of the host');
    expect(notSupported('c')).toBe('-c: not supported by testin: the VM has its --cpus');
    expect(notSupported('no-such-flag')).toBeUndefined();
    expect(notSupported('detach-keys', 'exec')).toBe('--detach-keys: not supported by testin: testin exec has no detaching: Ctrl-C stops the command');
  });

  it("docker exec's flags: each is taken by testin exec, or refused with the reason", () => {
    const taken = new Set(['help', ...Object.keys(EXEC_FLAGS), ...Object.values(EXEC_FLAGS).flatMap((o) => ('alias' in o ? [o.alias] : []))]);
    // `docker exec --help` of Docker 28.2
    const docker = 'd detach detach-keys e env env-file i interactive privileged t tty u user w workdir'.split(' ');
    expect(docker.filter((flag) => !taken.has(flag) && notSupported(flag, 'exec') === undefined)).toEqual([]);
  });
});

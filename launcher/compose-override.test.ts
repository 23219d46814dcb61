import { describe, expect, it } from 'vitest';
import { buildComposeOverride, containerPort } from './compose-override.js';
import { UsageError } from '../contract/errors.js';
import { decodePlan, type RunPlan } from '../contract/run-plan.js';
import { resolveProcessSettings } from './build-plan.js';

const volumes = { toolbox: 'testin-toolbox-0.1.0', modules: 'testin-modules-6.1.0' };
const vm = { volumes, kvm: false, accel: 'tcg' as const, kernelRelease: '6.1.0' };
const vmOf = () => vm;

/** the plan a service's container-init gets, as compose will hand it over ($$ is a $) */
function planOf(service: Record<string, unknown> | undefined): RunPlan {
  const env = (service as { environment: Record<string, string> }).environment;
  return decodePlan((env.TESTIN_PLAN as string).replace(/\$\$/g, '$'));
}

describe('buildComposeOverride', () => {
  it('applies cap_drop, cap_add, sysctls, ulimits, shm_size, pids_limit, security_opt and group_add in the VM, by the plan fields testin run makes from its flags', () => {
    const service = {
      command: 'true',
      cap_drop: ['ALL'],
      cap_add: ['NET_ADMIN'],
      sysctls: { 'net.ipv4.ip_forward': 1 },
      ulimits: { nofile: { soft: 1024, hard: 2048 }, nproc: 512 },
      shm_size: '256m',
      pids_limit: 64,
      security_opt: ['no-new-privileges:true'],
      group_add: [4242],
      privileged: true,
      stop_signal: 'SIGUSR1',
    };
    const override = buildComposeOverride({ services: { t: service }, chosen: ['t'], images: { t: {} }, vmOf }) as { services: Record<string, Record<string, unknown>> };
    const plan = planOf(override.services.t);
    const run = resolveProcessSettings({
      image: 'x',
      capDrop: ['ALL'],
      capAdd: ['NET_ADMIN'],
      sysctls: ['net.ipv4.ip_forward=1'],
      ulimits: ['nofile=1024:2048', 'nproc=512'],
      shmSize: '256m',
      pidsLimit: 64,
      securityOpt: ['no-new-privileges:true'],
      groupAdd: ['4242'],
      privileged: true,
      stopSignal: 'SIGUSR1',
    });
    expect({ process: plan.process, machine: plan.machine }).toEqual(run);
    // --privileged keeps every capability, in both
    expect(plan.process?.capabilities).toBeUndefined();
    expect(plan.machine).toEqual({ sysctls: [['net.ipv4.ip_forward', '1']], shmSizeBytes: 256 * 1024 ** 2, pidsLimit: 64 });
    // the container around the VM holds QEMU's and virtiofsd's threads: no limit of the command's there
    expect(override.services.t?.pids_limit).toBe(-1);
    // the container around the VM is testin's: never privileged (this engine could not even grant it)
    expect(override.services.t?.privileged).toBe(false);
    // stop_signal is the command's; docker stop gives container-init SIGTERM, which it turns into that
    expect(plan.process?.stopSignal).toBe(10);
    expect(override.services.t?.stop_signal).toBe('SIGTERM');
  });


  it("read_only: makes the VM's root read-only, never the container's (container-init prepares the VM's root in it)", () => {
    const override = buildComposeOverride({ services: { t: { command: 'true', read_only: true } }, chosen: ['t'], images: { t: {} }, vmOf }) as {
      services: Record<string, Record<string, unknown>>;
    };
    const t = override.services.t as Record<string, unknown>;
    expect(t.read_only).toBe(false);
    expect(planOf(t).readonlyRoot).toBe(true);
  });

  it("runs the service's own command under container-init, as root, with its user and ports for the VM", () => {
    const override = buildComposeOverride({
      services: { test: { command: 'pytest -x "tests/a b"', user: 'app', ports: ['9000:80', { target: 53, protocol: 'udp' }], expose: [8080] }, db: {} },
      chosen: ['test'],
      images: { test: { Entrypoint: ['/entry'], Cmd: ['ignored'], ExposedPorts: { '443/tcp': {} } } },
      vmOf,
      version: '3.8',
    }) as { version: string; services: Record<string, Record<string, unknown>>; volumes: Record<string, unknown> };
    expect(override.version).toBe('3.8');
    expect(Object.keys(override.services)).toEqual(['test']);
    const test = override.services.test as Record<string, unknown>;
    expect(test.entrypoint).toEqual(['/run/testin/toolbox/bin/testin-agent', '--init', '/run/testin/toolbox/bin/container-init']);
    expect(test.command).toEqual(['/entry', 'pytest', '-x', 'tests/a b']);
    expect(test.user).toBe('root');
    // the plan testin run would make: its user, the ports forwarded into the VM; the rest docker decides at start
    const plan = planOf(test);
    expect(plan).toMatchObject({ user: 'app', fromContainer: true, kernelModules: { staging: '/run/testin/modules', release: '6.1.0' } });
    expect(plan.network.forwards.map((f) => `${f.port}/${f.proto}`)).toEqual(['80/tcp', '53/udp', '8080/tcp', '443/tcp']);
    expect(plan.vm).toMatchObject({ accel: 'tcg', cpus: 2, memoryMiB: 1024 });
    expect(Object.keys(test.environment as object)).toEqual(['TESTIN_PLAN']);
    expect(test.volumes).toEqual(['testin-toolbox-0.1.0:/run/testin/toolbox:ro', 'testin-modules-6.1.0:/run/testin/modules:ro']);
    expect(test.devices).toBeUndefined();
    // compose down's docker stop leaves the command its 10 s, the guest its power-off and container-init its teardown
    expect(test.stop_grace_period).toBe('15s');
    expect(override.volumes).toEqual({ 'testin-toolbox-0.1.0': { external: true }, 'testin-modules-6.1.0': { external: true } });
  });

  it("drops the image's CMD when the service sets an entrypoint, and adds /dev/kvm only with KVM", () => {
    const override = buildComposeOverride({ services: { t: { entrypoint: ['/bin/run'] } }, chosen: ['t'], images: { t: { Cmd: ['x'] } }, vmOf: () => ({ ...vm, kvm: true }) }) as {
      services: Record<string, Record<string, unknown>>;
    };
    expect(override.services.t?.command).toEqual(['/bin/run']);
    expect(override.services.t?.devices).toEqual(['/dev/kvm']);
  });

  it('sends the VM through passt, with the seccomp profile passt needs, when the toolbox has it (not for network_mode none)', () => {
    type Override = { services: Record<string, { environment: Record<string, string>; security_opt: string[] }> };
    const on = buildComposeOverride({ services: { t: { command: 'x' }, n: { command: 'x', network_mode: 'none' } }, chosen: ['t', 'n'], images: {}, vmOf, passt: { seccompFile: '/p/compose.testin.seccomp.json' } }) as Override;
    expect(planOf(on.services.t).network).toMatchObject({ nic: true, backend: 'passt' });
    expect(on.services.t?.security_opt).toEqual(['apparmor=unconfined', 'seccomp=/p/compose.testin.seccomp.json']);
    expect(planOf(on.services.n).network).toMatchObject({ nic: false, backend: 'slirp' });
    expect(on.services.n?.security_opt).toEqual(['apparmor=unconfined']);
    const off = buildComposeOverride({ services: { t: { command: 'x' } }, chosen: ['t'], images: {}, vmOf }) as Override;
    expect([planOf(off.services.t).network.backend, off.services.t?.security_opt]).toEqual(['slirp', ['apparmor=unconfined']]);
  });

  it("gives each service its own architecture's toolbox and accelerator, and declares every toolbox volume once", () => {
    const arm = { volumes: { toolbox: 'testin-toolbox-arm', modules: 'testin-modules-arm', snapshots: 'testin-snapshots-arm' }, kvm: false, accel: 'tcg' as const, kernelRelease: '6.12.0-arm64' };
    const amd = { ...vm, kvm: true, accel: 'kvm' as const };
    type Override = { services: Record<string, { volumes: string[]; devices?: string[]; environment: Record<string, string> }>; volumes: Record<string, unknown> };
    const override = buildComposeOverride({ services: { a: { command: 'x' }, b: { command: 'x' }, c: { command: 'x' } }, chosen: ['a', 'b', 'c'], images: {}, vmOf: (s) => (s === 'b' ? arm : amd) }) as Override;
    expect(override.services.b?.volumes).toEqual(['testin-toolbox-arm:/run/testin/toolbox:ro', 'testin-modules-arm:/run/testin/modules:ro', expect.stringMatching(/^testin-snapshots-arm:/)]);
    expect([override.services.b?.devices, planOf(override.services.b).vm.accel, planOf(override.services.b).kernelModules?.release]).toEqual([undefined, 'tcg', '6.12.0-arm64']);
    expect([override.services.a?.devices, planOf(override.services.a).vm.accel]).toEqual([['/dev/kvm'], 'kvm']);
    expect(Object.keys(override.volumes).sort()).toEqual(['testin-modules-6.1.0', 'testin-modules-arm', 'testin-snapshots-arm', 'testin-toolbox-0.1.0', 'testin-toolbox-arm']);
  });

  it('keeps a $ of the plan from compose interpolation', () => {
    const override = buildComposeOverride({ services: { t: { command: 'x', user: 'a$b' } }, chosen: ['t'], images: {}, vmOf }) as { services: Record<string, Record<string, unknown>> };
    expect((override.services.t as { environment: Record<string, string> }).environment.TESTIN_PLAN).toContain('"user":"a$$b"');
    expect(planOf(override.services.t).user).toBe('a$b');
  });

  it('names the services there are when one is unknown', () => {
    expect(() => buildComposeOverride({ services: { web: {} }, chosen: ['tset'], images: {}, vmOf })).toThrow(UsageError);
  });

  it.each([
    ['8080', '8080/tcp'],
    ['127.0.0.1:9000:80/udp', '80/udp'],
    [5432, '5432/tcp'],
  ])('container port of %j is %s', (port, expected) => expect(containerPort(port)).toBe(expected));
});

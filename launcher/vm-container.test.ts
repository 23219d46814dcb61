import { describe, expect, it } from 'vitest';
import { decodePlan, type RunPlan } from '../contract/run-plan.js';
import { buildPlan } from './build-plan.js';
import { buildComposeOverride } from './compose-override.js';
import { seccompProfile } from '../contract/seccomp-profile.js';
import { securityOptions, vmContainer } from './vm-container.js';

const volumes = { toolbox: 'testin-toolbox-1', modules: 'testin-modules-6.12', snapshots: 'testin-snapshots-1' };

describe('one container spec for every way into a VM', () => {
  // the same settings, as `testin run` gets them (flags) and as `testin compose` gets them (a service)
  const override = buildComposeOverride({
    services: { t: { image: 'img', command: ['./test'], user: 'app', expose: [8080] } },
    chosen: ['t'],
    images: { t: {} },
    vmOf: () => ({ volumes, kvm: true, accel: 'kvm', kernelRelease: '6.12' }),
    passt: { seccompFile: '/p/compose.testin.seccomp.json' },
    version: '3.8',
  }) as { services: Record<string, Record<string, unknown>> };
  const service = override.services.t as Record<string, unknown>;
  const composed = decodePlan((service.environment as Record<string, string>).TESTIN_PLAN?.replace(/\$\$/g, '$') as string);
  const runPlan: RunPlan = buildPlan(
    { image: 'img', command: ['./test'], user: 'app', expose: ['8080'] },
    {},
    { runId: 'r', accel: 'kvm', hostEnv: {}, kernelModules: { staging: '/run/testin/modules', release: '6.12' }, forwards: [{ port: 8080, proto: 'tcp' }], passtAvailable: true, snapshotsAvailable: true, lease: true },
  );
  const run = vmContainer(runPlan, { kvm: true, volumes, owner: { kind: 'run', runId: 'r' } });

  it('testin run and testin compose give the same entrypoint (testin\'s own PID 1), capabilities, devices, security options, mounts and stop grace', () => {
    expect(service.cap_add).toEqual(run.capAdd);
    expect(service.devices).toEqual(run.devices);
    expect(service.devices).toEqual(['/dev/kvm']);
    // the same profile: inline for the engine's API, a file for compose
    expect(securityOptions(run)).toEqual(['apparmor=unconfined', `seccomp=${JSON.stringify(seccompProfile())}`]);
    expect(service.security_opt).toEqual(['apparmor=unconfined', 'seccomp=/p/compose.testin.seccomp.json']);
    expect(service.volumes).toEqual(run.mounts.map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`));
    expect(service.stop_grace_period).toBe(`${run.stopTimeoutS}s`);
    expect(service.entrypoint).toEqual(run.entrypoint);
  });

  it('labels: a run carries its id and owner, a compose service its own mark, a persistent session no owner', () => {
    expect(Object.keys(run.labels).sort()).toEqual(['testin.owner.host', 'testin.owner.pid', 'testin.run']);
    expect(service.labels).toEqual({ 'testin.compose': '1' });
    const persistent = vmContainer(runPlan, { kvm: false, volumes, owner: { kind: 'session', name: 's', cpus: '2', memory: '1024MiB', persistent: true } });
    expect(persistent.labels).toEqual({ 'testin.run': 's', 'testin.session': 's', 'testin.cpus': '2', 'testin.memory': '1024MiB' });
    const owned = vmContainer(runPlan, { kvm: false, volumes, owner: { kind: 'session', name: 's', cpus: '2', memory: '1024MiB', persistent: false } });
    expect(owned.labels['testin.owner.pid']).toBe(String(process.pid));
  });

  it('what compose decides itself (the command, the environment, the mounts at start) stays out of the comparison; the plans agree on the rest', () => {
    expect(composed.fromContainer).toBe(true);
    expect({ user: composed.user, forwards: composed.network.forwards, backend: composed.network.backend, vm: composed.vm }).toEqual({
      user: runPlan.user,
      forwards: runPlan.network.forwards,
      backend: runPlan.network.backend,
      vm: runPlan.vm,
    });
  });

  it('no seccomp profile without passt (slirp, or no NIC), no /dev/kvm without KVM', () => {
    const slirp = vmContainer({ ...runPlan, network: { ...runPlan.network, backend: 'slirp' } }, { kvm: false, volumes, owner: { kind: 'compose' } });
    expect(securityOptions(slirp)).toEqual(['apparmor=unconfined']);
    expect(slirp.devices).toEqual([]);
  });
});

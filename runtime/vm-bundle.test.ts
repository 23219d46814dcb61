import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capabilityNames } from '../contract/process-settings.js';
import { PLAN_ENV, decodePlan } from '../contract/run-plan.js';
import type { OciProcess, OciSpec } from './oci-spec.js';
import type { RuntimeInstall } from '../contract/runtime-install.js';
import { annotationVariables, isVmSpec, vmExecProcess, vmSpec } from './vm-bundle.js';

/** the config.json dockerd 20.10 wrote for `docker run -u 1000:1000 --group-add 44 --cap-drop NET_RAW --ulimit nofile=1024:2048 --sysctl net.ipv4.ip_forward=1 --shm-size 128m -v /tmp:/data:ro -w /data --hostname probe -e FOO=bar busybox sleep 60` */
const dockerSpec = (): OciSpec => JSON.parse(readFileSync(join(import.meta.dirname, 'testdata', 'docker-20.10-config.json'), 'utf8')) as OciSpec;
const install: RuntimeInstall = { version: 1, toolbox: '/var/lib/docker/volumes/tb/_data', toolboxHash: 'ab'.repeat(32), modules: '/var/lib/docker/volumes/mod/_data', kernelRelease: '6.12.1', snapshots: '/var/lib/docker/volumes/snap/_data', passt: true, runc: '/usr/sbin/runc' };
const planOf = (spec: OciSpec) => decodePlan((spec.process?.env ?? []).find((e) => e.startsWith(`${PLAN_ENV}=`))?.slice(PLAN_ENV.length + 1) ?? '');

describe('a bundle turned into a VM container', () => {
  const out = vmSpec(dockerSpec(), install, 'c0ffee', { kvm: false });
  const proc = out.process as OciProcess;

  it('runs container-init as root under testin\'s init, with the command as its arguments', () => {
    expect(proc.args).toEqual(['/run/testin/toolbox/bin/testin-agent', '--init', '/run/testin/toolbox/bin/container-init', 'sleep', '60']);
    expect(proc.user).toEqual({ uid: 0, gid: 0 });
    expect(isVmSpec(out)).toBe(true);
    expect(isVmSpec(dockerSpec())).toBe(false);
    expect(proc.env).toContain('FOO=bar');
  });

  it("carries the command's user, groups, capabilities, rlimits and sysctls in the plan, for the VM", () => {
    const plan = planOf(out);
    expect(plan.fromContainer).toBe(true);
    expect(plan.execs).toBe(true);
    expect(plan.runId).toBe('c0ffee');
    expect(plan.user).toBe('1000:1000');
    expect(plan.process?.groupAdd).toEqual(['44']);
    // docker's default set, NET_RAW dropped: the command keeps exactly those 13
    expect(capabilityNames(plan.process?.capabilities)).toEqual(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'MKNOD', 'AUDIT_WRITE', 'SETFCAP']);
    expect(plan.process?.rlimits).toEqual([{ name: 'nofile', resource: 7, soft: 1024, hard: 2048 }]);
    expect(plan.machine?.sysctls).toContainEqual(['net.ipv4.ip_forward', '1']);
    expect(plan.machine?.shmSizeBytes).toBe(128 * 1024 * 1024);
    expect(plan.network.backend).toBe('passt');
    expect(plan.snapshot).toBe(true);
    expect(plan.kernelModules).toEqual({ staging: '/run/testin/modules', release: '6.12.1' });
  });

  it("gives container-init what every VM's container has: CAP_SYS_ADMIN, no AppArmor, testin's seccomp profile, a writable root", () => {
    expect(proc.capabilities?.bounding).toEqual(expect.arrayContaining(['CAP_SYS_ADMIN', 'CAP_NET_RAW', 'CAP_MKNOD']));
    expect(proc.capabilities?.effective).toContain('CAP_SYS_ADMIN');
    expect(proc.apparmorProfile).toBeUndefined();
    expect(proc.noNewPrivileges).toBe(false);
    expect((out.linux?.seccomp as { syscalls: { names: string[] }[] }).syscalls[0]?.names).toContain('kexec_load');
    expect(out.root?.readonly).toBe(false);
  });

  it('binds the toolbox and modules read-only and the snapshots read-write from the host, on a tmpfs of its own', () => {
    const ours = (out.mounts ?? []).slice(-4);
    expect(ours).toEqual([
      { destination: '/run/testin', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
      { destination: '/run/testin/toolbox', type: 'bind', source: install.toolbox, options: ['rbind', 'ro'] },
      { destination: '/run/testin/modules', type: 'bind', source: install.modules, options: ['rbind', 'ro'] },
      { destination: '/run/testin/snapshots', type: 'bind', source: install.snapshots, options: ['rbind', 'rw'] },
    ]);
    expect((out.mounts ?? []).find((m) => m.destination === '/data')).toEqual((dockerSpec().mounts ?? []).find((m) => m.destination === '/data'));
  });

  it('adds /dev/kvm (device and cgroup rule) only where the host has it', () => {
    expect(out.linux?.devices).toBeUndefined();
    const kvm = vmSpec(dockerSpec(), install, 'c', { kvm: true });
    expect(kvm.linux?.devices).toContainEqual(expect.objectContaining({ path: '/dev/kvm', major: 10, minor: 232 }));
    expect(kvm.linux?.resources?.devices).toContainEqual({ allow: true, type: 'c', major: 10, minor: 232, access: 'rwm' });
  });

  it('a read-only root is the VM\'s; annotations and TESTIN_* variables set the VM', () => {
    const spec = dockerSpec();
    spec.root = { path: '/r', readonly: true };
    spec.annotations = { 'testin.memory': '2g', 'testin.cpus': '3', 'testin.nope': 'x', 'org.other': 'y' };
    const vm = vmSpec(spec, install, 'c', { kvm: false });
    const plan = planOf(vm);
    expect([vm.root?.readonly, plan.readonlyRoot]).toEqual([false, true]);
    expect([plan.vm.memoryMiB, plan.vm.cpus]).toEqual([2048, 3]);
    expect(vm.process?.env).toEqual(expect.arrayContaining(['TESTIN_MEMORY=2g', 'TESTIN_CPUS=3']));
    expect(annotationVariables(spec.annotations)).toEqual(['TESTIN_MEMORY=2g', 'TESTIN_CPUS=3']);
  });

  it('a root user with every capability (--privileged) keeps every one in the VM', () => {
    const spec = dockerSpec();
    const all = capabilityNames(undefined).map((c) => `CAP_${c}`);
    spec.process = { ...(spec.process as OciProcess), user: { uid: 0, gid: 0 }, capabilities: { bounding: all, effective: all, permitted: all } };
    const plan = planOf(vmSpec(spec, install, 'c', { kvm: false }));
    expect(plan.process?.capabilities).toBeUndefined();
    expect(plan.user).toBe('0:0');
  });
});

describe("an exec's process", () => {
  it('becomes a client of the session socket that asks the VM for the exec\'s command, user, env, cwd and terminal', () => {
    const proc: OciProcess = { user: { uid: 1000, gid: 100 }, args: ['uname', '-r'], env: ['PATH=/usr/bin:/bin', 'X=1', 'TESTIN_MEMORY=2g'], cwd: '/work', terminal: true, consoleSize: { height: 30, width: 100 }, apparmorProfile: 'docker-default' };
    const out = vmExecProcess(proc);
    expect(out.args).toEqual(['/run/testin/toolbox/bin/container-init', '--exec']);
    expect(out.user).toEqual({ uid: 0, gid: 0 });
    expect(out.apparmorProfile).toBeUndefined();
    expect(out.terminal).toBe(true);
    const request = JSON.parse((out.env ?? []).find((e) => e.startsWith('TESTIN_EXEC='))?.slice('TESTIN_EXEC='.length) ?? '{}');
    expect(request).toEqual({ argv: ['uname', '-r'], env: ['PATH=/usr/bin:/bin', 'X=1'], cwd: '/work', user: '1000:100', stdin: true, tty: { rows: 30, cols: 100 } });
  });
});

import { describe, expect, it } from 'vitest';
import type { ToolboxFacts } from '../contract/toolbox-manifest.js';
import { architectureCheck, doctorExitCode, engineCheck, formatChecks, hostChecks, inOrder, runtimeCheck } from './doctor.js';
import { parseHostProbe } from './host-probe.js';

const toolbox: ToolboxFacts = { volumeName: 'testin-toolbox-x', hash: 'h', recipe: 'r', baseImage: 'debian:trixie-slim', kernelRelease: '6.12.0', modulesVolume: 'm', passt: true, snapshots: true, testin: '0.1.0', guest: 'amd64' };
const PVM_HOST = 'cpu_virt=\nkvm_modules=kvm,kvm_pvm,\ndevice=present\ndevice_rw=1\ndevice_mode=crw-rw-rw-\ndevice_gid=0\nnested=\nmount=1\nfree_kib=52428800\ntoolbox_kib=400000\nqemu=QEMU emulator version 10.0.13\nvirtiofsd=1.13.1\n';

describe('hostChecks', () => {
  it('names a paravirtual /dev/kvm as the reason for TCG, and a run still works (exit 0)', () => {
    const checks = inOrder(hostChecks({ toolbox, base: 'debian:trixie-slim', probe: parseHostProbe(PVM_HOST, true), snapshots: { volume: true } }));
    const kvm = checks.find((c) => c.name === 'kvm');
    expect(kvm?.verdict).toBe('warn');
    expect(kvm?.seen).toMatch(/kvm_pvm \(paravirtual\)/);
    expect(kvm?.fix).toMatch(/paravirtual/);
    expect(checks.find((c) => c.name === 'accelerator')?.seen).toMatch(/TCG/);
    expect(doctorExitCode(checks)).toBe(0);
    expect(checks.map((c) => c.name)).toEqual(['container', 'kvm', 'toolbox', 'passt', 'space', 'snapshots', 'accelerator', 'network']);
  });

  it('picks KVM where the CPU has vmx and /dev/kvm opens', () => {
    const probe = parseHostProbe(PVM_HOST.replace('cpu_virt=', 'cpu_virt=vmx').replace('kvm_pvm', 'kvm_intel').replace('nested=', 'nested=Y'), true);
    const checks = hostChecks({ toolbox, base: 'b', probe });
    expect(checks.find((c) => c.name === 'kvm')).toMatchObject({ verdict: 'ok', seen: expect.stringMatching(/nested virtualization in the guest: available/) });
    expect(checks.find((c) => c.name === 'accelerator')?.seen).toBe('a run would use KVM');
  });

  it('tells how to open a /dev/kvm that containers cannot open', () => {
    const probe = parseHostProbe(PVM_HOST.replace('cpu_virt=', 'cpu_virt=svm').replace('device_rw=1', 'device_rw=0').replace('crw-rw-rw-', 'crw-rw----'), true);
    expect(hostChecks({ toolbox, base: 'b', probe }).find((c) => c.name === 'kvm')?.fix).toMatch(/chmod 666 \/dev\/kvm|kvm group/);
  });

  it('fails when containers cannot mount, or the engine has no space', () => {
    const noMount = hostChecks({ toolbox, base: 'b', probe: parseHostProbe(PVM_HOST.replace('mount=1', 'mount=0'), true) });
    expect(doctorExitCode(noMount)).toBe(1);
    const full = hostChecks({ toolbox, base: 'b', probe: parseHostProbe(PVM_HOST.replace('free_kib=52428800', 'free_kib=1000'), true) });
    expect(full.find((c) => c.name === 'space')?.verdict).toBe('fail');
  });

  it('without a toolbox: warns that the first run builds it, and that KVM was not looked at', () => {
    const checks = hostChecks({ base: 'debian:trixie-slim' });
    expect(checks.map((c) => [c.name, c.verdict])).toEqual([['toolbox', 'warn'], ['kvm', 'warn']]);
    expect(doctorExitCode(checks)).toBe(0);
  });
});

describe('engineCheck', () => {
  const docker = { product: 'docker' as const, version: '26.1.5', apiVersion: '1.45', engineApiVersion: '1.45', rootless: false, remote: false, endpoint: 'unix:///var/run/docker.sock', seccompInline: true };
  const info = { serverVersion: '26.1.5', cgroupVersion: '2', securityOptions: ['name=seccomp,profile=builtin', 'name=cgroupns'], dockerRootDir: '/var/lib/docker', operatingSystem: 'Debian', kernelVersion: '6.1', ncpu: 2, memTotal: 24 * 1024 ** 3 };

  it('says where the engine is and how it confines containers', () => {
    const [c] = engineCheck(info, docker);
    expect(c?.seen).toMatch(/Docker 26\.1\.5 \(API 1\.45\) local.*cgroup v2, security: seccomp, cgroupns/);
    expect(engineCheck(info, { ...docker, remote: true, endpoint: 'tcp://ci:2375' })[0]?.seen).toMatch(/remote at tcp:\/\/ci:2375/);
  });

  it('names Podman, and what testin does differently there', () => {
    const checks = engineCheck({ ...info, serverVersion: '4.3.1' }, { ...docker, product: 'podman', version: '4.3.1', apiVersion: '1.41', engineApiVersion: '1.41' });
    expect(checks[0]?.seen).toMatch(/^Podman 4\.3\.1 \(API 1\.41\) local/);
    expect(checks.find((c) => c.name === 'engine mode')?.seen).toMatch(/^on Podman: the seccomp profile .* by path/);
    expect(engineCheck(info, docker).filter((c) => c.name === 'engine mode')).toEqual([]);
  });

  it('says what testin does differently on a rootless engine, and warns of userns-remap', () => {
    const checks = engineCheck({ ...info, securityOptions: ['name=rootless', 'name=userns'] }, docker);
    expect(checks.filter((c) => c.verdict === 'warn').map((c) => c.seen)).toEqual([expect.stringMatching(/^userns-remap is on/)]);
    expect(checks.find((c) => /^rootless/.test(c.seen))?.seen).toMatch(/passt runs as the container's root/);
    // Podman says rootless in a field of its own, not in its security options
    expect(engineCheck(info, { ...docker, product: 'podman', rootless: true }).some((c) => /^rootless/.test(c.seen))).toBe(true);
    expect(engineCheck(info, docker).some((c) => /^rootless/.test(c.seen))).toBe(false);
  });
});

describe('formatChecks', () => {
  it('prints one line per check, its fix on the next', () => {
    const text = formatChecks([{ name: 'engine', verdict: 'fail', seen: 'no engine', fix: 'start dockerd' }, { name: 'kvm', verdict: 'ok', seen: 'fine' }]);
    expect(text).toBe('fail  engine  no engine\n              fix: start dockerd\nok    kvm     fine');
  });
});

describe('doctor: testin-runtime on this host', () => {
  const install = { version: 1 as const, toolbox: '/v/tb', toolboxHash: 'a'.repeat(64), modules: '/v/m', kernelRelease: '6.12', passt: true, runc: '/usr/sbin/runc' };
  const dir = '/var/lib/testin/runtime';
  const named = { runc: 'runc', testin: `${dir}/testin-runtime` };

  it('says nothing when the runtime is neither installed nor named', () => {
    expect(runtimeCheck({ dir, install: undefined, toolboxGone: false, currentToolbox: undefined, engineRuntimes: { runc: 'runc' } })).toEqual([]);
  });

  it('ok when installed with the current toolbox and named by the engine, with the name to use', () => {
    expect(runtimeCheck({ dir, install, toolboxGone: false, currentToolbox: 'a'.repeat(64), engineRuntimes: named })).toEqual([
      { name: 'runtime', verdict: 'ok', seen: `testin-runtime (${dir}) is the engine's runtime "testin": docker run --runtime testin runs the command in a VM` },
    ]);
  });

  it('warns when not named, or installed with another toolbox; fails when its toolbox is gone or the engine names a runtime not installed', () => {
    const verdict = (i: Parameters<typeof runtimeCheck>[0]) => runtimeCheck(i).map((c) => [c.verdict, c.fix?.split(' ')[2]]);
    expect(verdict({ dir, install, toolboxGone: false, currentToolbox: undefined, engineRuntimes: { runc: 'runc' } })).toEqual([['warn', 'configure,']]);
    expect(verdict({ dir, install, toolboxGone: false, currentToolbox: 'b'.repeat(64), engineRuntimes: named })).toEqual([['warn', 'install']]);
    expect(verdict({ dir, install, toolboxGone: true, currentToolbox: 'a'.repeat(64), engineRuntimes: named })).toEqual([['fail', 'install']]);
    expect(verdict({ dir, install: undefined, toolboxGone: false, currentToolbox: undefined, engineRuntimes: named })).toEqual([['fail', 'install']]);
  });
});

describe('architectureCheck: the engine\'s architecture, the image\'s, and the VM a run gets', () => {
  it('says which images run natively and which emulated, and whether their toolbox is built', () => {
    expect(architectureCheck({ engine: 'x86_64', toolboxes: ['amd64'] })).toEqual({
      name: 'architecture',
      verdict: 'ok',
      seen: "the engine's host is x86_64 (linux/amd64 images): their VMs are x86_64 (KVM where usable); linux/arm64 images run in aarch64 VMs under TCG (QEMU emulates them)",
    });
    expect(architectureCheck({ engine: 'x86_64', image: { name: 'app:arm', architecture: 'arm64' }, toolboxes: ['amd64'] }).seen).toBe(
      "the engine's host is x86_64 (linux/amd64 images); the image app:arm is linux/arm64: its VM is aarch64 (under TCG: QEMU emulates it, KVM runs only its host's own architecture); its toolbox is built at the first run (or: testin toolbox build --platform linux/arm64)",
    );
    expect(architectureCheck({ engine: 'aarch64', image: { name: 'app', architecture: 'arm64' }, toolboxes: ['arm64'] }).seen).toBe(
      "the engine's host is aarch64 (linux/arm64 images); the image app is linux/arm64: its VM is aarch64 (KVM where usable)",
    );
  });

  it('fails with the run\'s own refusal: an image of another platform than --platform, an engine testin has no toolbox for', () => {
    expect(architectureCheck({ engine: 'x86_64', image: { name: 'app', architecture: 'arm64' }, platform: 'linux/amd64', toolboxes: [] })).toMatchObject({
      verdict: 'fail',
      seen: 'the image app does not match the specified platform: wanted linux/amd64, actual: linux/arm64',
    });
    expect(architectureCheck({ engine: 's390x', toolboxes: [] })).toMatchObject({ verdict: 'fail', seen: 'the engine runs on s390x, for which testin has no toolbox' });
  });
});

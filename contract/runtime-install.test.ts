import { describe, expect, it } from 'vitest';
import { RuntimeSetupError } from './errors.js';
import { guestToolbox, type RuntimeInstall } from './runtime-install.js';

const arm = { toolbox: '/t/arm', toolboxHash: 'b'.repeat(64), modules: '/m/arm', kernelRelease: '6.12-arm64', passt: true };
const install: RuntimeInstall = { version: 1, toolbox: '/t/amd', toolboxHash: 'a'.repeat(64), modules: '/m/amd', kernelRelease: '6.12-amd64', passt: true, guest: 'amd64', runc: 'runc' };

/** the one line and fix of a refusal */
function refusal(f: () => unknown): [string, string] | undefined {
  try {
    f();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(RuntimeSetupError);
    return [(error as RuntimeSetupError).message, (error as RuntimeSetupError).fix];
  }
}

describe('guestToolbox', () => {
  it("takes the install's own toolbox for binaries of its guests' architecture, or when nothing tells", () => {
    expect(guestToolbox(install, 'amd64', 'amd64')).toEqual({ toolbox: install, guest: 'amd64' });
    expect(guestToolbox(install, undefined, 'amd64').guest).toBe('amd64');
    // an install written before guests were recorded is of the host's architecture
    expect(guestToolbox({ ...install, guest: undefined }, 'arm64', 'arm64').toolbox.toolbox).toBe('/t/amd');
  });

  it("takes another guest's toolbox when installed, and refuses in one line with the install to run when not", () => {
    expect(guestToolbox({ ...install, guests: { arm64: arm } }, 'arm64', 'amd64')).toEqual({ toolbox: arm, guest: 'arm64' });
    expect(refusal(() => guestToolbox(install, 'arm64', 'amd64'))).toEqual([
      "the container's binaries are linux/arm64: testin-runtime has no toolbox for arm64 VMs",
      'run testin runtime install --platform linux/arm64 (or configure) on this host',
    ]);
    expect(refusal(() => guestToolbox(install, 'other', 'amd64'))).toEqual(["the container's binaries are of an architecture testin has no VM for", 'run linux/amd64 or linux/arm64 images (docker run --platform)']);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunPlan } from '../contract/run-plan.js';
import { commandRequest, guestModprobe, guestVolumes } from './command-request.js';

const root = mkdtempSync(join(tmpdir(), 'testin-command-request-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function plan(over: Partial<RunPlan> = {}): RunPlan {
  return {
    version: 2, runId: 'r', argv: ['true'], env: ['PATH=/bin'], cwd: '/', user: '', stdin: false, tty: false, noVm: false, readonlyRoot: false,
    mounts: [], tmpfs: [], network: { nic: true, forwards: [], backend: 'passt' }, stopTimeoutMs: 10_000,
    vm: { cpus: 2, memoryMiB: 1024, accel: 'tcg', kernelCmdline: [], console: false, bootTimeoutMs: 120_000 },
    ...over,
  } as RunPlan;
}

describe('guestModprobe', () => {
  const has = (...paths: string[]) => (p: string): boolean => paths.includes(p);
  const TOOLBOX = '/run/testin/toolbox/sbin/modprobe';

  it("is the image's own when it has /sbin/modprobe, else the toolbox's", () => {
    expect(guestModprobe(plan(), [], has('/sbin/modprobe', TOOLBOX), TOOLBOX)).toBe('image');
    expect(guestModprobe(plan(), [], has(TOOLBOX), TOOLBOX)).toBe('toolbox');
    // a toolbox without one: the kernel's default, as the guest did
    expect(guestModprobe(plan(), [], has(), TOOLBOX)).toBe('image');
  });

  it('leaves it to the guest when a volume may hide /sbin', () => {
    const at = (target: string): RunPlan => plan({ mounts: [{ source: '/x', target, readOnly: false }] as RunPlan['mounts'] });
    for (const target of ['/', '/usr', '/usr/sbin', '/sbin']) expect(guestModprobe(at(target), [], has(TOOLBOX), TOOLBOX)).toBeUndefined();
    expect(guestModprobe(plan(), [{ path: '/usr/local' }], has(TOOLBOX), TOOLBOX)).toBeUndefined();
    // elsewhere it hides nothing of /sbin
    expect(guestModprobe(at('/data'), [{ path: '/srv' }], has(TOOLBOX), TOOLBOX)).toBe('toolbox');
    expect(guestModprobe(at('/usrdata'), [], has(TOOLBOX), TOOLBOX)).toBe('toolbox');
  });
});

describe('commandRequest', () => {
  it('has the guest announce itself only when the run publishes ports through a NIC', () => {
    const forwards = [{ proto: 'tcp', port: 80 }] as RunPlan['network']['forwards'];
    expect(commandRequest(plan(), { root, netBackend: 'passt' }).announce).toBe(false);
    expect(commandRequest(plan({ network: { nic: true, forwards, backend: 'passt' } }), { root, netBackend: 'passt' }).announce).toBe(true);
    expect(commandRequest(plan({ network: { nic: true, forwards, backend: 'slirp' } }), { root, netBackend: 'slirp' }).announce).toBe(true);
    expect(commandRequest(plan({ network: { nic: false, forwards, backend: 'passt' } }), { root }).announce).toBe(false);
  });

  it("sets the container's NIS domain name in the VM's kernel before the user's --sysctl, none for the kernel's (none)", () => {
    const sysctls = [['kernel.domainname', 'mine'], ['net.ipv4.ip_forward', '1']] as const;
    expect(commandRequest(plan({ machine: { sysctls } }), { root, domainname: 'corp.example\n' }).machine?.sysctls).toEqual([['kernel.domainname', 'corp.example'], ...sysctls]);
    expect(commandRequest(plan(), { root, domainname: 'corp.example' }).machine).toEqual({ sysctls: [['kernel.domainname', 'corp.example']] });
    expect(commandRequest(plan({ machine: { shmSizeBytes: 4096 } }), { root, domainname: '(none)\n' }).machine).toEqual({ shmSizeBytes: 4096 });
    expect(commandRequest(plan(), { root }).machine).toBeUndefined();
  });

  it('passes on the modprobe it was given', () => {
    expect(commandRequest(plan(), { root, netBackend: 'passt', modprobe: 'toolbox' }).modprobe).toBe('toolbox');
    expect(commandRequest(plan(), { root, netBackend: 'passt' }).modprobe).toBeUndefined();
  });
});

describe('guestVolumes', () => {
  it("names each mount where the VM finds it, the image's links resolved, parents first; none when the root's share serves them", () => {
    const mounts = [{ source: '/a', target: '/var/run/x', readOnly: true }, { source: '/b', target: '/data', readOnly: false }] as RunPlan['mounts'];
    const resolve = (t: string): string => t.replace(/^\/var\/run\//, '/run/');
    expect(guestVolumes(plan({ mounts, fsCache: 'auto' }), [], resolve)).toEqual([{ target: '/data', readOnly: false }, { target: '/run/x', readOnly: true }]);
    expect(guestVolumes(plan({ mounts, fsCache: 'always' }), [], resolve)).toBeUndefined();
  });
});

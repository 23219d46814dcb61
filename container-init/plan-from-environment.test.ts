import { describe, expect, it } from 'vitest';
import { applyOverrides, completeFromContainer, defaultPlan, planFromEnvironment, userMountPoints } from './plan-from-environment.js';

describe('planFromEnvironment (compose mode)', () => {
  it('takes the command, environment and cwd from the container, the rest from TESTIN_* variables', () => {
    const plan = planFromEnvironment({
      argv: ['pytest', '-x'],
      env: { PATH: '/bin', APP: '1', TESTIN_USER: 'app', TESTIN_MEMORY: '512m', TESTIN_CPUS: '1', TESTIN_FORWARD: '8080/tcp 53/udp', TESTIN_ACCEL: 'tcg' },
      cwd: '/src',
      tty: false,
      hostname: 'abc123',
      modulesRelease: '6.1.0',
    });
    expect(plan).toMatchObject({ argv: ['pytest', '-x'], env: ['PATH=/bin', 'APP=1'], cwd: '/src', user: 'app', stdin: false, hostname: 'abc123' });
    expect(plan.vm).toMatchObject({ cpus: 1, memoryMiB: 512, accel: 'tcg' });
    expect(plan.network.forwards).toEqual([{ port: 8080, proto: 'tcp' }, { port: 53, proto: 'udp' }]);
    expect(plan.kernelModules).toEqual({ staging: '/run/testin/modules', release: '6.1.0' });
    expect(plan.network.backend).toBe('slirp');
    const passt = planFromEnvironment({ argv: ['x'], env: { TESTIN_NET_BACKEND: 'passt' }, cwd: '/', tty: false, hostname: 'h' });
    expect(passt.network.backend).toBe('passt');
  });

  it('needs a command', () => {
    expect(() => planFromEnvironment({ argv: [], env: {}, cwd: '/', tty: false, hostname: 'h' })).toThrow(/no command/);
  });

  it("TESTIN_BOOT boots the image's init: the command runs once the system is up; an image whose command is that init runs none", () => {
    const facts = { env: { TESTIN_BOOT: '/sbin/init' }, cwd: '/', tty: false, hostname: 'h' };
    const withCommand = planFromEnvironment({ ...facts, argv: ['systemctl', 'is-system-running'] });
    expect(withCommand).toMatchObject({ boot: '/sbin/init', argv: ['systemctl', 'is-system-running'] });
    expect(planFromEnvironment({ ...facts, argv: ['/sbin/init'] })).toMatchObject({ boot: '/sbin/init', argv: [] });
    expect(planFromEnvironment({ ...facts, argv: [] })).toMatchObject({ boot: '/sbin/init', argv: [] });
    expect(planFromEnvironment({ ...facts, env: {}, argv: ['/sbin/init'] }).boot).toBeUndefined();
    expect(() => planFromEnvironment({ ...facts, env: { TESTIN_BOOT: 'sbin/init' }, argv: ['x'] })).toThrow(/TESTIN_BOOT=sbin\/init: the image's init must be an absolute path/);
  });
});

describe('userMountPoints', () => {
  it("keeps the user's mounts and drops docker's own and testin's", () => {
    const mountinfo = [
      '600 500 0:50 / / rw,relatime - overlay overlay rw',
      '601 600 0:51 / /proc rw - proc proc rw',
      '602 600 0:52 / /dev rw - tmpfs tmpfs rw',
      '603 600 8:1 /var/lib/docker/volumes/data/_data /data rw,relatime - ext4 /dev/sda1 rw',
      '604 600 8:1 /home/u/src /src ro,relatime - ext4 /dev/sda1 rw',
      '605 600 8:1 /x /etc/hosts rw - ext4 /dev/sda1 rw',
      '606 600 0:60 / /run/testin/toolbox ro - ext4 /dev/sda1 rw',
      '607 600 0:61 / /run/testin rw - tmpfs tmpfs rw',
      '609 600 8:1 /home/u/own /testin ro - ext4 /dev/sda1 rw',
      '608 603 0:62 / /data/with\\040space rw - tmpfs tmpfs rw',
    ].join('\n');
    expect(userMountPoints(mountinfo)).toEqual([
      { path: '/data', readOnly: false },
      { path: '/src', readOnly: true },
      { path: '/testin', readOnly: true },
      { path: '/data/with space', readOnly: false },
    ]);
  });
});

describe('applyOverrides: the TESTIN_* variables over the plan testin compose made', () => {
  const base = applyOverrides(defaultPlan('6.1.0'), {});

  it('changes only what a variable says', () => {
    const plan = applyOverrides({ ...base, user: '1000', network: { ...base.network, backend: 'passt' } }, { TESTIN_CPUS: '4', TESTIN_MEMORY: '2g' });
    expect(plan).toMatchObject({ user: '1000', vm: { cpus: 4, memoryMiB: 2048 }, network: { backend: 'passt', nic: true } });
    expect(applyOverrides(plan, { TESTIN_NETWORK: 'none' }).network).toMatchObject({ nic: false, backend: 'slirp' });
    expect(applyOverrides(plan, { TESTIN_USER: '' }).user).toBe('');
    // a fraction, as compose's cpus: 1.5 is written: whole vCPUs, rounded up
    expect(applyOverrides(base, { TESTIN_CPUS: '1.5' }).vm.cpus).toBe(2);
  });

  it('refuses a number that is none, as a plan error', () => {
    expect(() => applyOverrides(base, { TESTIN_CPUS: 'many' })).toThrow(/TESTIN_CPUS=many is not a number/);
  });
});

describe('completeFromContainer', () => {
  it("keeps container-init's own start out of the command's environment", () => {
    const plan = completeFromContainer(defaultPlan(undefined), {
      argv: ['x'],
      env: { PATH: '/bin', SHLVL: '1', PWD: '/', HOME: '/root', TESTIN_PLAN: '{}', APP: '1' },
      cwd: '/w',
      tty: false,
      hostname: 'h',
    });
    expect(plan.env).toEqual(['PATH=/bin', 'APP=1']);
    expect(completeFromContainer({ ...defaultPlan(undefined), env: ['HOME=/root'] }, { argv: ['x'], env: { HOME: '/root' }, cwd: '/', tty: false, hostname: 'h' }).env).toEqual(['HOME=/root']);
  });
});

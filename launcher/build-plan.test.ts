import { describe, expect, it } from 'vitest';
import { DEFAULT_PATH, parseMemoryMiB } from '../contract/run-plan.js';
import { buildPlan, execEnv, parseEnvFile, resolveArgv, resolveEnv, resolveLabels, resolveNetBackend } from './build-plan.js';
import { UsageError } from '../contract/errors.js';

const ctx = { runId: 'r1', accel: 'tcg' as const, hostEnv: { FROM_HOST: 'h', EMPTY: '' } };

describe('resolveArgv (docker ENTRYPOINT/CMD rules)', () => {
  const image = { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'] };

  it('runs ENTRYPOINT + CMD when no command is given', () => {
    expect(resolveArgv({ image: 'i' }, image)).toEqual(['/bin/sh', '-c', 'echo hi']);
  });

  it('replaces CMD, keeps ENTRYPOINT, when a command is given', () => {
    expect(resolveArgv({ image: 'i', command: ['date'] }, image)).toEqual(['/bin/sh', '-c', 'date']);
  });

  it('drops the image CMD when --entrypoint is given', () => {
    expect(resolveArgv({ image: 'i', entrypoint: '/bin/true' }, image)).toEqual(['/bin/true']);
    expect(resolveArgv({ image: 'i', entrypoint: '', command: ['ls'] }, image)).toEqual(['ls']);
  });

  it('fails when there is nothing to run', () => {
    expect(() => resolveArgv({ image: 'i' }, {})).toThrow(UsageError);
  });
});

describe('resolveEnv', () => {
  it('layers image Env, env files and -e flags, later wins, order kept', () => {
    const env = resolveEnv({ image: 'i', env: ['A=flag', 'FROM_HOST', 'NOT_ON_HOST', 'EMPTY'] }, { Env: ['A=image', 'PATH=/bin', 'B=image'] }, { ...ctx, envFileTexts: ['# comment\n\nB=file\n  C=file\n'] });
    expect(env).toEqual(['A=flag', 'PATH=/bin', 'B=file', 'C=file', 'FROM_HOST=h', 'EMPTY=']);
  });

  it("adds docker's PATH when the image has none", () => {
    expect(resolveEnv({ image: 'i' }, {}, ctx)).toEqual([`PATH=${DEFAULT_PATH}`]);
  });

  it('rejects a variable with no name', () => {
    expect(() => resolveEnv({ image: 'i', env: ['=x'] }, {}, ctx)).toThrow(/name is empty/);
  });

  it('parses env files like docker', () => {
    expect(parseEnvFile('A=1\r\n# x\n\n B=2=3\n')).toEqual(['A=1', 'B=2=3']);
    // refused as docker refuses them: a shell line's `export`, a space in a name, no name
    expect(() => parseEnvFile(' export A=1\n')).toThrow(/--env-file: the name "export A" has whitespace in it/);
    expect(() => parseEnvFile('A B\n', '--label-file')).toThrow(/--label-file: the name "A B" has whitespace/);
    expect(() => parseEnvFile('=1\n')).toThrow(/--env-file: no name on the line "=1"/);
    // a value may hold anything
    expect(parseEnvFile('A=x y # z\n')).toEqual(['A=x y # z']);
  });
});

describe('execEnv (docker exec -e and --env-file)', () => {
  it('reads files first, then flags, later wins; K alone is the caller\'s K, or nothing', () => {
    expect(execEnv(['A=flag', 'FROM_HOST', 'NOT_ON_HOST', 'EMPTY'], ['# c\nA=file\nB=file\n'], ctx.hostEnv)).toEqual(['A=flag', 'B=file', 'FROM_HOST=h', 'EMPTY=']);
    expect(() => execEnv(['=x'], [], {})).toThrow(UsageError);
  });
});

describe('resolveLabels (docker --label and --label-file)', () => {
  it('reads files first, then flags, later wins; KEY alone is an empty value; comments and blank lines are skipped', () => {
    const files = ['# ci\n\njob=1\n  team=a\nflag\n', 'team=b\n'];
    expect(resolveLabels(['job=2', 'x=a=b', 'empty='], files)).toEqual({ job: '2', team: 'b', flag: '', x: 'a=b', empty: '' });
    expect(resolveLabels([], [])).toEqual({});
  });

  it("refuses an empty key and testin's own keys", () => {
    expect(() => resolveLabels(['=v'], [])).toThrow(/^invalid label "=v": the key is empty$/);
    expect(() => resolveLabels(['testin.run=x'], [])).toThrow(/^--label testin\.run: the testin\.\* labels are testin's own$/);
    expect(() => resolveLabels([], ['testin.session=s\n'])).toThrow(UsageError);
    expect(resolveLabels(['testing=1', 'com.testin.x=1'], [])).toEqual({ testing: '1', 'com.testin.x': '1' });
  });
});

describe('parseMemoryMiB', () => {
  it.each([
    ['512m', 512],
    ['2g', 2048],
    ['2G', 2048],
    ['1.5g', 1536],
    ['1073741824', 1024],
    ['262144k', 256],
    ['512MiB', 512],
  ])('%s is %i MiB', (text, mib) => expect(parseMemoryMiB(text)).toBe(mib));

  it.each(['', 'lots', '-1g', '64m'])('rejects %j', (text) => expect(() => parseMemoryMiB(text)).toThrow(UsageError));
});

describe('buildPlan', () => {
  it("gives the command --stop-signal, else the image's STOPSIGNAL (not with --boot: that one is its init's)", () => {
    expect(buildPlan({ image: 'i', command: ['true'], stopSignal: 'SIGUSR2' }, { StopSignal: 'SIGINT' }, ctx).process?.stopSignal).toBe(12);
    expect(buildPlan({ image: 'i', command: ['true'] }, { StopSignal: 'SIGQUIT' }, ctx).process?.stopSignal).toBe(3);
    expect(buildPlan({ image: 'i', command: ['true'], boot: '' }, { StopSignal: 'SIGRTMIN+3' }, ctx).process).toBeUndefined();
    expect(buildPlan({ image: 'i', command: ['true'] }, { StopSignal: 'SIGTERM' }, ctx).process).toBeUndefined();
    expect(() => buildPlan({ image: 'i', command: ['true'], stopSignal: 'NOPE' }, {}, ctx)).toThrow(/--stop-signal NOPE: no such signal/);
  });

  it('takes defaults from the image and the VM defaults', () => {
    const plan = buildPlan({ image: 'i', command: ['true'] }, { WorkingDir: '/srv', User: 'app' }, ctx);
    expect(plan).toMatchObject({ argv: ['true'], cwd: '/srv', user: 'app', stdin: false, fsCache: 'auto' });
    expect(plan.vm).toMatchObject({ cpus: 2, memoryMiB: 1024, accel: 'tcg', console: false });
  });

  it('lets flags override the image', () => {
    const plan = buildPlan(
      { image: 'i', command: ['true'], workdir: '/w', user: '0:0', cpus: 1, memory: '512m', kernelCmdline: ' a=1  b ', interactive: true },
      { WorkingDir: '/srv', User: 'app' },
      ctx,
    );
    expect(plan).toMatchObject({ cwd: '/w', user: '0:0', stdin: true });
    expect(plan.vm).toMatchObject({ cpus: 1, memoryMiB: 512, kernelCmdline: ['a=1', 'b'] });
    expect(buildPlan({ image: 'i', command: ['true'], cpus: 1.5 }, {}, ctx).vm.cpus).toBe(2);
    expect(buildPlan({ image: 'i', command: ['true'], cpus: 0.25 }, {}, ctx).vm.cpus).toBe(1);
  });
  it.each([
    ['by default', {}, {}, true],
    ['with --no-snapshot', { snapshot: false }, {}, false],
    ['with TESTIN_SNAPSHOT=0', {}, { TESTIN_SNAPSHOT: '0' }, false],
    ['with TESTIN_SNAPSHOT=off', {}, { TESTIN_SNAPSHOT: 'off' }, false],
    ['with TESTIN_SNAPSHOT=1', {}, { TESTIN_SNAPSHOT: '1' }, true],
    ['with --snapshot over TESTIN_SNAPSHOT=0', { snapshot: true }, { TESTIN_SNAPSHOT: '0' }, true],
    ['not with --no-vm', { noVm: true }, {}, false],
    ['not with --console (it is asked for to see the kernel boot)', { console: true }, {}, false],
  ])('restores the VM from a snapshot %s: %s', (_when, options, env, want) => {
    const plan = buildPlan({ image: 'i', command: ['true'], ...options }, {}, { ...ctx, hostEnv: env, snapshotsAvailable: true });
    expect(plan.snapshot).toBe(want);
  });

  it('boots cold with a toolbox whose VMM cannot snapshot, or a user kernel', () => {
    expect(buildPlan({ image: 'i', command: ['true'] }, {}, { ...ctx, snapshotsAvailable: false }).snapshot).toBe(false);
    const kernel = { kernel: '/k', initrd: '/i', format: 'elf' as const };
    expect(buildPlan({ image: 'i', command: ['true'] }, {}, { ...ctx, snapshotsAvailable: true, kernel }).snapshot).toBe(false);
  });
});

describe('resolveNetBackend', () => {
  const withPasst = { ...ctx, passtAvailable: true };
  it('takes passt when the toolbox has it, slirp otherwise', () => {
    expect(resolveNetBackend({ image: 'i' }, withPasst)).toBe('passt');
    expect(resolveNetBackend({ image: 'i' }, ctx)).toBe('slirp');
    expect(resolveNetBackend({ image: 'i', netBackend: 'slirp' }, withPasst)).toBe('slirp');
  });
  it('keeps slirp (no passt, no seccomp change) for --network none and --no-vm', () => {
    expect(resolveNetBackend({ image: 'i', network: 'none' }, withPasst)).toBe('slirp');
    expect(resolveNetBackend({ image: 'i', noVm: true }, withPasst)).toBe('slirp');
  });
  it('refuses passt asked for by name when the toolbox has none, with a fix', () => {
    expect(() => resolveNetBackend({ image: 'i', netBackend: 'passt' }, ctx)).toThrow(expect.objectContaining({ message: expect.stringMatching(/no passt/), fix: expect.stringMatching(/--net-backend slirp/) }));
  });
  it('puts the backend in the plan', () => {
    expect(buildPlan({ image: 'i', command: ['true'] }, {}, withPasst).network.backend).toBe('passt');
  });
});

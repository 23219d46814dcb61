import { describe, expect, it } from 'vitest';
import { GUEST_NR_OPEN, capabilityMask, capabilityNames, mergeRlimits, parseDevice, parseProcLimits, parseShmSize, parseSignal, parseSysctl, parseUlimit, signalName } from './process-settings.js';

describe('capabilityMask', () => {
  it('keeps every capability unless some are dropped (the command is root of its own machine)', () => {
    expect(capabilityMask()).toBeUndefined();
    expect(capabilityMask(['NET_ADMIN'])).toBeUndefined();
    expect(capabilityMask([], ['NET_ADMIN'], true)).toBeUndefined();
  });

  it('drops what --cap-drop names, in any of docker spellings', () => {
    const names = capabilityNames(capabilityMask([], ['net_admin', 'CAP_SYS_MODULE']));
    expect(names).not.toContain('NET_ADMIN');
    expect(names).not.toContain('SYS_MODULE');
    expect(names).toContain('SYS_ADMIN');
    expect(names).toHaveLength(39);
  });

  it('after --cap-drop ALL, keeps only what --cap-add names', () => {
    expect(capabilityMask([], ['ALL'])).toBe('0');
    expect(capabilityNames(capabilityMask(['NET_ADMIN', 'CHOWN'], ['ALL']))).toEqual(['CHOWN', 'NET_ADMIN']);
    expect(capabilityMask(['NET_ADMIN'], ['ALL'])).toBe((1n << 12n).toString(16));
  });

  it('refuses a capability Linux does not have', () => {
    expect(() => capabilityMask([], ['NET_ADMINN'])).toThrow(/--cap-drop NET_ADMINN: no such capability/);
    expect(() => capabilityMask(['FLY'])).toThrow(/--cap-add FLY/);
  });
});

describe('parseUlimit', () => {
  it("reads docker's NAME=SOFT[:HARD], -1 or unlimited for none", () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ name: 'nofile', resource: 7, soft: 1024, hard: 2048 });
    expect(parseUlimit('nproc=512')).toEqual({ name: 'nproc', resource: 6, soft: 512, hard: 512 });
    expect(parseUlimit('core=-1')).toMatchObject({ resource: 4, soft: -1, hard: -1 });
    expect(parseUlimit('stack=8192:unlimited')).toMatchObject({ resource: 3, soft: 8192, hard: -1 });
  });

  it('refuses an unknown name, a bad shape, and a soft limit above the hard one', () => {
    expect(() => parseUlimit('files=1')).toThrow(/not NAME=SOFT\[:HARD\]/);
    expect(() => parseUlimit('nofile')).toThrow(/--ulimit nofile/);
    expect(() => parseUlimit('nofile=10:5')).toThrow(/soft limit is above/);
  });
});

describe('parseSysctl and parseShmSize', () => {
  it('takes any sysctl, dotted or slashed', () => {
    expect(parseSysctl('net.ipv4.ip_forward=1')).toEqual(['net.ipv4.ip_forward', '1']);
    expect(parseSysctl('kernel/msgmax=65536')).toEqual(['kernel.msgmax', '65536']);
    expect(parseSysctl('net.ipv4.ip_local_port_range=1024 65000')).toEqual(['net.ipv4.ip_local_port_range', '1024 65000']);
    expect(() => parseSysctl('novalue')).toThrow(/not KEY=VALUE/);
    expect(() => parseSysctl('../etc=1')).toThrow(/not KEY=VALUE/);
  });

  it("reads docker's sizes", () => {
    expect(parseShmSize('256m')).toBe(256 * 1024 ** 2);
    expect(parseShmSize('1g')).toBe(1024 ** 3);
    expect(parseShmSize('65536')).toBe(65536);
    expect(() => parseShmSize('lots')).toThrow(/--shm-size lots/);
  });
});

describe('parseSignal: --stop-signal as docker reads it', () => {
  it.each([
    ['SIGUSR1', 10],
    ['usr2', 12],
    ['15', 15],
    ['SIGRTMIN+3', 37],
    ['RTMAX-1', 63],
    ['SIGINT', 2],
  ])('%s is %i', (text, n) => {
    expect(parseSignal(text)).toBe(n);
  });

  it('refuses what is no signal, naming the flag', () => {
    expect(() => parseSignal('SIGFOO')).toThrow(/--stop-signal SIGFOO: no such signal/);
    expect(() => parseSignal('65', 'stop_signal')).toThrow(/stop_signal 65: no such signal/);
    expect(() => parseSignal('RTMAX+1')).toThrow(/no such signal/);
  });

  it('names a signal back', () => {
    expect(signalName(10)).toBe('SIGUSR1');
    expect(signalName(37)).toBe('SIGRTMIN+3');
    expect(signalName(15)).toBe('SIGTERM');
  });
});

/** /proc/1/limits of a container on this machine's dockerd, open files as an engine under systemd's infinity gives them */
const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max file size             unlimited            unlimited            bytes
Max data size             unlimited            unlimited            bytes
Max stack size            8388608              unlimited            bytes
Max core file size        0                    unlimited            bytes
Max resident set          unlimited            unlimited            bytes
Max processes             96367                96367                processes
Max open files            1073741816           1073741816           files
Max locked memory         8388608              8388608              bytes
Max address space         unlimited            unlimited            bytes
Max file locks            unlimited            unlimited            locks
Max pending signals       96367                96367                signals
Max msgqueue size         819200               819200               bytes
Max nice priority         0                    0
Max realtime priority     0                    0
Max realtime timeout      unlimited            unlimited            us
`;

describe('parseProcLimits', () => {
  it("reads every row of /proc/PID/limits as setrlimit's resource, -1 for unlimited", () => {
    const limits = parseProcLimits(PROC_LIMITS);
    expect(limits.map((l) => l.name)).toEqual(['cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile', 'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime']);
    expect(limits.find((l) => l.name === 'nproc')).toEqual({ name: 'nproc', resource: 6, soft: 96367, hard: 96367 });
    expect(limits.find((l) => l.name === 'stack')).toEqual({ name: 'stack', resource: 3, soft: 8388608, hard: -1 });
    expect(limits.find((l) => l.name === 'rttime')).toEqual({ name: 'rttime', resource: 15, soft: -1, hard: -1 });
  });

  it("holds open files to the VM kernel's fs.nr_open, which setrlimit cannot pass; lower ones stay", () => {
    expect(parseProcLimits(PROC_LIMITS).find((l) => l.name === 'nofile')).toEqual({ name: 'nofile', resource: 7, soft: GUEST_NR_OPEN, hard: GUEST_NR_OPEN });
    expect(parseProcLimits('Max open files            1024                 524288               files\n')).toEqual([{ name: 'nofile', resource: 7, soft: 1024, hard: 524288 }]);
  });

  it('skips what it does not know (a header, an empty text)', () => {
    expect(parseProcLimits('Limit                     Soft Limit           Hard Limit           Units\n')).toEqual([]);
    expect(parseProcLimits('')).toEqual([]);
  });
});

describe('mergeRlimits', () => {
  it("keeps the container's limits --ulimit does not set, and --ulimit's in place of the others", () => {
    const inherited = parseProcLimits(PROC_LIMITS);
    const merged = mergeRlimits(inherited, [parseUlimit('nofile=1024:2048')]);
    expect(merged.filter((l) => l.name === 'nofile')).toEqual([{ name: 'nofile', resource: 7, soft: 1024, hard: 2048 }]);
    expect(merged).toHaveLength(inherited.length);
    expect(mergeRlimits([], [parseUlimit('core=0')])).toEqual([{ name: 'core', resource: 4, soft: 0, hard: 0 }]);
    expect(mergeRlimits(inherited)).toEqual(inherited);
  });
});

describe('parseDevice', () => {
  it("takes the VM's own devices, in docker's forms (PATH, PATH:PATH, PATH:PERMS, PATH:PATH:PERMS)", () => {
    expect(['/dev/fuse', '/dev/net/tun:/dev/net/tun', '/dev/loop-control:rwm', '/dev/loop7:/dev/loop7:rw', '/dev/loop12'].map(parseDevice)).toEqual(['/dev/fuse', '/dev/net/tun', '/dev/loop-control', '/dev/loop7', '/dev/loop12']);
  });

  it("refuses a host's device, another path in the VM, and what is not docker's form", () => {
    expect(() => parseDevice('/dev/sda')).toThrow(/^--device \/dev\/sda: a device of the host cannot be handed into the VM's kernel$/);
    expect(() => parseDevice('/dev/kvm')).toThrow(/a device of the host/);
    expect(() => parseDevice('/dev/fuse:/dev/myfuse')).toThrow(/^--device \/dev\/fuse:\/dev\/myfuse: the VM has its own \/dev\/fuse, at that path only$/);
    expect(() => parseDevice('/dev/fuse:/dev/fuse:xyz')).toThrow(/not PATH\[:PATH\]\[:PERMS\]/);
  });
});

import { describe, expect, it } from 'vitest';
import { capabilityMask, capabilityNames, parseShmSize, parseSignal, parseSysctl, parseUlimit, signalName } from './process-settings.js';

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

import { describe, expect, it } from 'vitest';
import { parseRuncArgv, runcLogLine } from './runc-argv.js';

describe('runc argv as containerd and dockerd write it', () => {
  it('reads the globals, the command, the bundle and the id of a create (the runc v2 shim)', () => {
    const argv = ['--root', '/var/run/docker/runtime-runc/moby', '--log', '/run/x/log.json', '--log-format', 'json', '--systemd-cgroup', 'create', '--bundle', '/run/b', '--pid-file', '/run/b/init.pid', '--console-socket', '/tmp/pty.sock', 'abc123'];
    expect(parseRuncArgv(argv)).toEqual({ command: 'create', log: '/run/x/log.json', logFormat: 'json', bundle: '/run/b', id: 'abc123' });
  });

  it('takes --flag=value, short flags, and the process file of an exec', () => {
    expect(parseRuncArgv(['--log=/l', '--log-format=text', 'exec', '--process', '/p.json', '--detach', '--pid-file', '/pid', 'c1'])).toEqual({ command: 'exec', log: '/l', logFormat: 'text', processFile: '/p.json', id: 'c1' });
    expect(parseRuncArgv(['run', '-b', '/b', 'c2'])).toEqual({ command: 'run', logFormat: 'text', bundle: '/b', id: 'c2' });
    expect(parseRuncArgv(['exec', '-t', 'c3', 'sh', '-c', 'true'])).toEqual({ command: 'exec', logFormat: 'text', id: 'c3' });
  });

  it('has no command for runc --version, and no id for features', () => {
    expect(parseRuncArgv(['--version']).command).toBeUndefined();
    expect(parseRuncArgv(['features'])).toEqual({ command: 'features', logFormat: 'text' });
  });

  it("writes one log line in runc's json and text formats", () => {
    const at = new Date('2026-12-04T10:00:00.000Z');
    expect(JSON.parse(runcLogLine('json', 'testin: no toolbox', at))).toEqual({ level: 'error', msg: 'testin: no toolbox', time: '2026-12-04T10:00:00.000Z' });
    expect(runcLogLine('text', 'a "b"', at)).toBe('time="2026-12-04T10:00:00.000Z" level=error msg="a \\"b\\""\n');
  });
});

import { describe, expect, it } from 'vitest';
import { UsageError } from '../contract/errors.js';
import { validateRunOptions } from './validate-options.js';

describe('validateRunOptions', () => {
  it.each([
    [{ image: '' }, /no image given/],
    [{ image: 'a b' }, /^invalid reference format: "a b": not \[HOST\[:PORT\]\/\]NAME/],
    [{ image: '/bin/init' }, /^invalid reference format: "\/bin\/init"/],
    [{ image: 'Team/App:1' }, /^invalid reference format: "Team\/App:1": repository name must be lowercase$/],
    [{ image: 'i', command: [] }, /command after -- is empty/],
    [{ image: 'i', cpus: 0 }, /invalid --cpus 0/],
    [{ image: 'i', cpus: 0.001 }, /invalid --cpus 0.001/],
    [{ image: 'i', cpus: 65 }, /invalid --cpus 65/],
    [{ image: 'i', cpus: 'two' as unknown as number }, /invalid --cpus two/],
    [{ image: 'i', stopTimeout: -1 }, /invalid --stop-timeout/],
    [{ image: 'i', timeout: 0 }, /invalid --timeout/],
    [{ image: 'i', initrd: '/x' }, /--initrd and --modules go with --kernel/],
    [{ image: 'i', kernel: '/k', noVm: true }, /--kernel and --no-vm exclude each other/],
    [{ image: 'i', accel: 'hvf' as 'kvm' }, /invalid --accel hvf/],
    [{ image: 'i', name: 'bad name!' }, /invalid --name "bad name!"/],
    [{ image: 'i', name: '-dash' }, /invalid --name/],
    [{ image: 'i', hostname: 'h'.repeat(65) }, /invalid --hostname/],
    [{ image: 'i', hostname: 'under_score' }, /invalid --hostname/],
    [{ image: 'i', dns: ['8.8.8.8', 'notanip'] }, /^--dns notanip: not an IP address$/],
    [{ image: 'i', network: 'n', ip: '10.0.0.300' }, /^--ip 10\.0\.0\.300: not an IPv4 address$/],
    [{ image: 'i', network: 'n', ip6: '10.0.0.3' }, /^--ip6 10\.0\.0\.3: not an IPv6 address$/],
    [{ image: 'i', networkAliases: ['web'] }, /^--network-alias needs a user-defined network: the container is on bridge$/],
    [{ image: 'i', network: 'host', ip: '10.0.0.3', ip6: 'fd00::3' }, /^--ip and --ip6 need a user-defined network: the container is on host$/],
    [{ image: 'i', network: 'container:db', networkAliases: ['web'] }, /needs a user-defined network: the container is on container:db$/],
    [{ image: 'i', cidfile: '' }, /^--cidfile: no file named$/],
    [{ image: 'i', links: ['db:alias:x'] }, /^--link db:alias:x: not NAME or NAME:ALIAS$/],
    [{ image: 'i', links: [':x'] }, /^--link :x: not NAME or NAME:ALIAS$/],
    [{ image: 'i', workdir: 'relative/dir' }, /^the working directory 'relative\/dir' is invalid, it needs to be an absolute path$/],
    [{ image: 'i', cidfile: import.meta.filename }, /^--cidfile .*validate-options\.test\.ts: the file exists \(another container's ID\?\)$/],
  ])('rejects %j', (options, message) => {
    expect(() => validateRunOptions(options)).toThrow(UsageError);
    expect(() => validateRunOptions(options)).toThrow(message);
  });

  it('accepts a plain run', () => {
    expect(() => validateRunOptions({ image: 'i', command: ['true'], cpus: 2, memory: '1g', timeout: 1000 })).not.toThrow();
    expect(() => validateRunOptions({ image: 'i', cpus: 1.5 })).not.toThrow();
    expect(() => validateRunOptions({ image: 'i', workdir: '/srv/app' })).not.toThrow();
    expect(() => validateRunOptions({ image: 'i', name: 'web.1_a-b', hostname: 'vm-1.example' })).not.toThrow();
    expect(() => validateRunOptions({ image: 'i', dns: ['192.0.2.53', 'fd00::53'], network: 'net', networkAliases: ['web'], ip: '172.20.0.5', ip6: 'fd00::5', cidfile: '/nonexistent/cid', links: ['db', 'db:database', '/web.1:w'] })).not.toThrow();
  });
});

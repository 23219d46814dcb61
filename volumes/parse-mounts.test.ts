import { describe, expect, it } from 'vitest';
import { UsageError } from '../contract/errors.js';
import { parseMountFlag, parseMounts, parseTmpfsFlag, parseVolumeFlag, parseVolumesFrom, volumesFromSpecs } from './parse-mounts.js';
import { mapVolumes } from './volume-mapping.js';

describe('-v', () => {
  it('tells binds from named and anonymous volumes', () => {
    expect(parseVolumeFlag('./data:/data:ro', '/home/u')).toEqual({ type: 'bind', source: '/home/u/data', target: '/data', readOnly: true, createSource: true });
    expect(parseVolumeFlag('/srv/x/:/x/', '/')).toMatchObject({ type: 'bind', source: '/srv/x', target: '/x', readOnly: false });
    expect(parseVolumeFlag('cache:/var/cache:rw', '/')).toEqual({ type: 'volume', source: 'cache', target: '/var/cache', readOnly: false });
    expect(parseVolumeFlag('/scratch', '/')).toEqual({ type: 'volume', target: '/scratch', readOnly: false });
  });

  it.each(['./a:relative', 'a:/b:bogus', ':/b', 'a:/', 'a:b:c:d', 'bad name!:/x', '/h:/b:nocopy', '/h:/b:rshared', 'v:/b:ro,rslave'])('rejects %j', (text) => {
    expect(() => parseVolumeFlag(text, '/')).toThrow(UsageError);
  });

  it("takes nocopy on a volume, and docker's default propagation (rprivate) on a bind, and says why another propagation cannot be", () => {
    expect(parseVolumeFlag('cache:/var/cache:ro,nocopy', '/')).toEqual({ type: 'volume', source: 'cache', target: '/var/cache', readOnly: true, noCopy: true });
    expect(parseVolumeFlag('/h:/b:rprivate', '/')).toMatchObject({ type: 'bind', source: '/h', target: '/b' });
    expect(() => parseVolumeFlag('/h:/b:rshared', '/')).toThrow(/rshared: a mount's propagation does not reach into a VM/);
    expect(() => parseVolumeFlag('/h:/b:nocopy', '/')).toThrow(/nocopy is for volumes/);
  });
});

describe('--mount and --tmpfs', () => {
  it('reads docker --mount fields and their aliases', () => {
    expect(parseMountFlag('type=bind,src=/a,dst=/b,readonly', '/')).toEqual({ type: 'bind', source: '/a', target: '/b', readOnly: true, createSource: false });
    expect(parseMountFlag('type=volume,source=v,target=/v,ro=false', '/')).toEqual({ type: 'volume', source: 'v', target: '/v', readOnly: false });
    expect(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770', '/')).toEqual({ type: 'tmpfs', target: '/t', options: 'nosuid,nodev,noexec,size=64m,mode=1770' });
    expect(() => parseMountFlag('type=bind,target=/b', '/')).toThrow(/needs source=/);
    expect(() => parseMountFlag('type=nfs,target=/b', '/')).toThrow(/unknown type "nfs"/);
  });

  it("refuses docker's keys it does not take, by name, and unknown keys, instead of dropping them", () => {
    expect(() => parseMountFlag('type=volume,src=v,dst=/v,volume-driver=local', '/')).toThrow(/testin does not take volume-driver= \(yet\)/);
    expect(() => parseMountFlag('type=bind,src=/a,dst=/b,bind-propagation=rshared', '/')).toThrow(/bind-propagation=rshared: a mount's propagation does not reach into a VM/);
    expect(parseMountFlag('type=bind,src=/a,dst=/b,bind-propagation=rprivate', '/')).toMatchObject({ type: 'bind', source: '/a', target: '/b' });
    expect(parseMountFlag('type=volume,src=v,dst=/v,volume-nocopy', '/')).toEqual({ type: 'volume', source: 'v', target: '/v', readOnly: false, noCopy: true });
    expect(parseMountFlag('type=volume,src=v,dst=/v,volume-nocopy=false', '/')).toEqual({ type: 'volume', source: 'v', target: '/v', readOnly: false });
    expect(() => parseMountFlag('type=bind,src=/a,dst=/b,volume-nocopy', '/')).toThrow(/volume-nocopy is for type=volume/);
    expect(() => parseMountFlag('type=bind,src=/a,dst=/b,colour=blue', '/')).toThrow(/unknown key "colour"/);
    expect(parseMountFlag('type=bind,src=/a,dst=/b,consistency=cached', '/')).toMatchObject({ source: '/a', target: '/b' });
  });

  it("a missing or relative path in the VM names the flag's own form in its fix", () => {
    const fix = (f: () => unknown): string => {
      try {
        f();
      } catch (error) {
        return `${(error as Error).message} | ${(error as { fix?: string }).fix}`;
      }
      return 'no error';
    };
    expect(fix(() => parseMountFlag('type=bind,src=/tmp', '/'))).toBe('--mount: no path in the VM (target=) | name one, e.g. --mount type=bind,source=./data,target=/data');
    expect(fix(() => parseMountFlag('type=bind,src=/tmp,dst=rel', '/'))).toBe('--mount: the path in the VM "rel" is not absolute | write it as /path, e.g. --mount type=bind,source=./data,target=/data');
    expect(fix(() => parseTmpfsFlag('rel'))).toBe('--tmpfs: the path in the VM "rel" is not absolute | write it as /path, e.g. --tmpfs /data');
    expect(fix(() => parseVolumeFlag('/a:rel', '/'))).toBe('-v: the path in the VM "rel" is not absolute | write it as /path, e.g. -v ./data:/data');
  });

  it('adds docker tmpfs defaults before the user options', () => {
    expect(parseTmpfsFlag('/run/x:size=1m,exec')).toEqual({ type: 'tmpfs', target: '/run/x', options: 'nosuid,nodev,noexec,size=1m,exec' });
  });

  it('refuses two mounts on one path', () => {
    expect(() => parseMounts({ volumes: ['/a:/x'], tmpfs: ['/x'] }, '/')).toThrow(/duplicate mount point \/x/);
  });
});

describe('--volumes-from', () => {
  it('reads CONTAINER[:ro|rw]', () => {
    expect(parseVolumesFrom('data')).toEqual({ container: 'data', mode: undefined });
    expect(parseVolumesFrom('data:ro')).toEqual({ container: 'data', mode: 'ro' });
    expect(() => parseVolumesFrom('data:rx')).toThrow(/^--volumes-from data:rx: unknown mode "rx"$/);
    expect(() => parseVolumesFrom(':ro')).toThrow(/no container named/);
  });

  it("takes the container's binds and volumes at their paths, as docker does: the mode given overrides each one's, the run's own paths win, tmpfs stays behind", () => {
    const mounts = [
      { type: 'volume', name: 'cache', source: '/var/lib/docker/volumes/cache/_data', destination: '/cache', rw: true },
      { type: 'bind', source: '/srv/conf', destination: '/etc/app/', rw: false },
      { type: 'tmpfs', source: '', destination: '/scratch', rw: true },
      { type: 'volume', name: 'mine', source: '/x', destination: '/data', rw: true },
    ];
    expect(volumesFromSpecs(mounts, undefined, new Set(['/data']))).toEqual([
      { type: 'volume', source: 'cache', target: '/cache', readOnly: false },
      { type: 'bind', source: '/srv/conf', target: '/etc/app', readOnly: true, createSource: false },
    ]);
    expect(volumesFromSpecs(mounts, 'rw', new Set()).map((s) => [s.target, 'readOnly' in s && s.readOnly])).toEqual([['/cache', false], ['/etc/app', false], ['/data', false]]);
    expect(volumesFromSpecs(mounts, 'ro', new Set()).every((s) => 'readOnly' in s && s.readOnly)).toBe(true);
  });
});

describe('mapVolumes', () => {
  it('stages binds and volumes, parents first, and leaves tmpfs to the VM', () => {
    const mapping = mapVolumes(parseMounts({ volumes: ['/h/sub:/data/sub', '/h/data:/data:ro', 'named:/named'], tmpfs: ['/scratch'] }, '/'));
    expect(mapping.moves).toEqual([
      { staging: '/run/testin/volumes/0', target: '/data', readOnly: true },
      { staging: '/run/testin/volumes/1', target: '/named', readOnly: false, copyUp: true },
      { staging: '/run/testin/volumes/2', target: '/data/sub', readOnly: false },
    ]);
    // -v binds go as docker -v binds (the engine makes a missing source folder), the rest as mounts
    expect(mapping.binds).toEqual(['/h/data:/run/testin/volumes/0:ro', '/h/sub:/run/testin/volumes/2']);
    expect(mapping.container.map((m) => [m.type, m.source, m.target])).toEqual([['volume', 'named', '/run/testin/volumes/1']]);
    const mounted = mapVolumes(parseMounts({ mounts: ['type=bind,source=/h/m,target=/m,readonly'] }, '/'));
    expect([mounted.binds, mounted.container]).toEqual([[], [{ type: 'bind', source: '/h/m', target: '/run/testin/volumes/0', readOnly: true }]]);
    expect(mapping.tmpfs).toEqual([{ target: '/scratch', options: 'nosuid,nodev,noexec' }]);
  });

  it("has container-init fill each volume but a nocopy one from the image, as docker does: a read-only one is mounted read-write for it, and made read-only after", () => {
    const mapping = mapVolumes(parseMounts({ volumes: ['named:/a:ro', '/anon', 'plain:/c:nocopy', '/h:/d:ro'], mounts: ['type=volume,src=m,dst=/e,volume-nocopy'] }, '/'));
    expect(mapping.moves.map((m) => [m.target, m.readOnly, m.copyUp ?? false])).toEqual([
      ['/a', true, true],
      ['/anon', false, true],
      ['/c', false, false],
      ['/d', true, false],
      ['/e', false, false],
    ]);
    expect(mapping.container.map((m) => [m.source ?? '(anonymous)', m.readOnly])).toEqual([['named', false], ['(anonymous)', false], ['plain', false], ['m', false]]);
    expect(mapping.binds).toEqual(['/h:/run/testin/volumes/3:ro']);
  });
});

import { describe, expect, it } from 'vitest';
import { UserLookupError, resolveUser } from './resolve-user.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\napp:x:1000:\nextra:x:2000:app,other\nwheel:x:10:root\n';

describe('resolveUser (docker -u)', () => {
  it('is root with root\'s groups and home by default', () => {
    expect(resolveUser('', PASSWD, GROUP)).toEqual({ uid: 0, gid: 0, groups: [0, 10], home: '/root' });
  });

  it('looks names up, with supplementary groups', () => {
    expect(resolveUser('app', PASSWD, GROUP)).toEqual({ uid: 1000, gid: 1000, groups: [1000, 2000], home: '/home/app' });
    expect(resolveUser('app:extra', PASSWD, GROUP)).toMatchObject({ uid: 1000, gid: 2000 });
  });

  it('accepts numeric ids that the image does not know', () => {
    expect(resolveUser('4242:4343', PASSWD, GROUP)).toEqual({ uid: 4242, gid: 4343, groups: [4343], home: '/' });
    expect(resolveUser('1000', PASSWD, GROUP)).toMatchObject({ uid: 1000, gid: 1000, home: '/home/app' });
  });

  it('is uid 0 in an image without /etc/passwd when no user is asked for (FROM scratch), as docker', () => {
    expect(resolveUser('', '', '')).toEqual({ uid: 0, gid: 0, groups: [0], home: '/' });
    expect(() => resolveUser('root', '', '')).toThrow(/unable to find user root/);
  });

  it('fails on unknown names', () => {
    expect(() => resolveUser('ghost', PASSWD, GROUP)).toThrow(UserLookupError);
    expect(() => resolveUser('app:ghosts', PASSWD, GROUP)).toThrow(/unable to find group ghosts/);
  });

  it("says how to fix each: a user's, a group's", () => {
    const fixOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (error) {
        return (error as UserLookupError).fix;
      }
      return undefined;
    };
    expect(fixOf(() => resolveUser('ghost', PASSWD, GROUP))).toBe('pick a user that the image has, or a numeric uid:gid');
    expect(fixOf(() => resolveUser('app:ghosts', PASSWD, GROUP))).toBe('pick a group that the image has (its /etc/group), or a numeric gid');
  });
});

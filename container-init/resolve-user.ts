/** docker's -u: uid[:gid] or name[:group], looked up in the image's /etc/passwd and /etc/group as runc does. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** supplementary groups: every group that lists the user by name */
  groups: number[];
  home: string;
}

export class UserLookupError extends Error {
  override readonly name = 'UserLookupError';
  constructor(
    message: string,
    /** how to fix it: a user's, unless said */
    readonly fix = 'pick a user that the image has, or a numeric uid:gid',
  ) {
    super(message);
  }
}

const GROUP_FIX = 'pick a group that the image has (its /etc/group), or a numeric gid';

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).flatMap((line) => {
    const f = line.split(':');
    if (f.length < 7) return [];
    return [{ name: f[0] as string, uid: Number(f[2]), gid: Number(f[3]), home: f[5] as string }];
  });
}

function parseGroup(text: string): GroupEntry[] {
  return lines(text).flatMap((line) => {
    const f = line.split(':');
    if (f.length < 4) return [];
    return [{ name: f[0] as string, gid: Number(f[2]), members: (f[3] as string).split(',').filter(Boolean) }];
  });
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

const isNumeric = (s: string): boolean => /^\d+$/.test(s);

/** docker's --group-add: each a gid, or a group name of the image's /etc/group */
export function resolveGroupAdd(names: readonly string[], groupText: string): number[] {
  const groups = parseGroup(groupText);
  return names.map((name) => {
    if (isNumeric(name)) return Number(name);
    const group = groups.find((g) => g.name === name);
    if (!group) throw new UserLookupError(`unable to find group ${name} (--group-add): no matching entries in /etc/group of the image`, GROUP_FIX);
    return group.gid;
  });
}

export function resolveUser(spec: string, passwdText: string, groupText: string): ResolvedUser {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  // no user given: uid 0, looked up for its home and groups but needing no /etc/passwd (an image FROM scratch has none), as runc does
  const who = userPart === '' ? '0' : userPart;
  const entry = isNumeric(who) ? passwd.find((p) => p.uid === Number(who)) : passwd.find((p) => p.name === who);
  if (!entry && !isNumeric(who)) throw new UserLookupError(`unable to find user ${who}: no matching entries in /etc/passwd of the image`);
  const uid = entry?.uid ?? Number(who);
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== '') {
    const group = isNumeric(groupPart) ? { gid: Number(groupPart) } : groups.find((g) => g.name === groupPart);
    if (!group) throw new UserLookupError(`unable to find group ${groupPart}: no matching entries in /etc/group of the image`, GROUP_FIX);
    gid = group.gid;
  }
  const supplementary = entry ? groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  return { uid, gid, groups: [...new Set([gid, ...supplementary])], home: entry?.home || '/' };
}

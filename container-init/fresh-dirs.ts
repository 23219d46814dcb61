/**
 * The VM's /run and /tmp are tmpfs of guest memory (made at boot, moved in by each run), where
 * docker's container has the image's own folders. What the image has there (Debian's /run/lock,
 * an image's /run/sshd, files a Dockerfile left in /tmp) is read here, in the container, and
 * made again in them by the guest's init; the user's mounts under them are bound again over
 * them (before, a tmpfs hid both). A folder whose content is too much to send keeps the image's
 * own folder, through virtiofs, as docker's.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { FreshDirs, FreshEntry } from '../contract/control-protocol.js';

/** the folders the guest's init makes fresh */
export const FRESH_DIRS = ['/run', '/tmp'] as const;
/** what one folder's content may cost the command's request: beyond it, the image's folder is kept */
export const FRESH_BUDGET = { entries: 256, bytes: 1 << 20 };
/**
 * Left out: /run/testin, testin's own (the container's work folder, and the toolbox in the VM), and
 * Podman's /run/.containerenv (the mount point of a file it puts in every container, which says "a
 * container" to systemd in the VM, as docker's /.dockerenv would)
 */
const LEFT_OUT = ['/run/testin', '/run/.containerenv'];

/** Pure: a path is the folder or under it */
export function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * What the guest makes in its fresh /run and /tmp: the image's entries (folders, links and
 * files, with their modes and owners; sockets, pipes and devices are skipped), the mounts under
 * them to bind again (`targets`: the user's, resolved in the root as the VM sees them, parents
 * first), and the folders kept as the image's. `root` is the image's root alone (the container's
 * root bound without its submounts); a target's own content is not read (it is bound).
 */
export function freshDirs(root: string, targets: readonly string[]): FreshDirs {
  const carry = targets.filter((t) => FRESH_DIRS.some((dir) => under(t, dir)));
  const skip = new Set([...carry, ...LEFT_OUT]);
  const entries: FreshEntry[] = [];
  const own: string[] = [];
  for (const dir of FRESH_DIRS) {
    const found = readTree(root, dir, skip);
    if (found === 'too much') own.push(dir);
    else entries.push(...found);
  }
  return { entries, own, carry: [...carry].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b)) };
}

const depth = (p: string): number => p.split('/').filter(Boolean).length;

function readTree(root: string, dir: string, skip: ReadonlySet<string>): FreshEntry[] | 'too much' {
  const top = lstatOrUndefined(join(root, dir));
  // an image without the folder, or with a link there: the guest's fresh one as before
  if (!top?.isDirectory()) return [];
  const entries: FreshEntry[] = [entryOf(dir, top)];
  let bytes = 0;
  const walk = (path: string): boolean => {
    for (const name of namesIn(join(root, path))) {
      const child = `${path}/${name}`;
      if (skip.has(child)) continue;
      const st = lstatOrUndefined(join(root, child));
      if (!st) continue;
      if (entries.length >= FRESH_BUDGET.entries) return false;
      if (st.isDirectory()) {
        entries.push(entryOf(child, st));
        if (!walk(child)) return false;
      } else if (st.isSymbolicLink()) {
        entries.push({ ...entryOf(child, st), data: Buffer.from(readlinkSync(join(root, child))) });
      } else if (st.isFile()) {
        bytes += st.size;
        if (bytes > FRESH_BUDGET.bytes) return false;
        const data = readOrUndefined(join(root, child));
        if (data) entries.push({ ...entryOf(child, st), data });
      }
    }
    return true;
  };
  return walk(dir) ? entries : 'too much';
}

function entryOf(path: string, st: Stats): FreshEntry {
  const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
  return { type, path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** a folder's names, sorted; none when it cannot be read (an owner this container's root does not map): the folder is made empty */
function namesIn(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

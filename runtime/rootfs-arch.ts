/**
 * The architecture of a container's binaries, read from its root filesystem: an OCI runtime
 * gets no image config, only the rootfs and the process. The command's executable (looked up
 * on the spec's PATH, symlinks followed inside the rootfs, a script's interpreter taken for
 * the script) is an ELF file whose header names its machine; when the command is not one,
 * the rootfs's shell or dynamic loader speaks for the image.
 */
import { closeSync, openSync, readSync, readlinkSync, lstatSync } from 'node:fs';
import { posix } from 'node:path';
import type { Arch } from '../contract/arch.js';

/** e_machine values (elf.h) of the architectures testin's VMs run */
const MACHINES: Record<number, Arch> = { 62: 'amd64', 183: 'arm64' };

/** what a file starts with: an ELF's machine, a script's interpreter, or neither */
type Head = { elf: Arch | 'other' } | { interpreter: string } | undefined;

function readHead(file: string): Head {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n >= 20 && buf.readUInt32BE(0) === 0x7f454c46) {
      // EI_DATA: 1 little-endian, 2 big-endian; e_machine at 18
      const machine = buf[5] === 2 ? buf.readUInt16BE(18) : buf.readUInt16LE(18);
      return { elf: MACHINES[machine] ?? 'other' };
    }
    if (n > 2 && buf[0] === 0x23 && buf[1] === 0x21) {
      const line = buf.subarray(2, n).toString('utf8').split('\n')[0]?.trim() ?? '';
      const interpreter = line.split(/\s+/)[0];
      return interpreter ? { interpreter } : undefined;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** PATH (absolute, inside ROOT) resolved with its symlinks taken inside ROOT, as the container sees it; undefined when it is not there */
export function resolveInRoot(root: string, path: string, depth = 0): string | undefined {
  if (depth > 40) return undefined;
  const parts = posix.normalize(path).split('/').filter(Boolean);
  let inside = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = posix.join(inside, parts[i] as string);
    let stat;
    try {
      stat = lstatSync(posix.join(root, next));
    } catch {
      return undefined;
    }
    if (stat.isSymbolicLink()) {
      const target = readlinkSync(posix.join(root, next));
      const rest = parts.slice(i + 1).join('/');
      const joined = target.startsWith('/') ? target : posix.join(inside, target);
      return resolveInRoot(root, rest ? posix.join(joined, rest) : joined, depth + 1);
    }
    inside = next;
  }
  return posix.join(root, inside);
}

/** the executable a command names (a path, or a name looked up on the spec's PATH), inside ROOT */
function findExecutable(root: string, command: string, env: readonly string[]): string | undefined {
  if (command.includes('/')) return resolveInRoot(root, posix.isAbsolute(command) ? command : posix.join('/', command));
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of path.split(':').filter((d) => d.startsWith('/'))) {
    const found = resolveInRoot(root, posix.join(dir, command));
    if (found) return found;
  }
  return undefined;
}

/** the machine of the file COMMAND names, a script's through its interpreter */
function commandArch(root: string, command: string, env: readonly string[], depth = 0): Arch | 'other' | undefined {
  const file = findExecutable(root, command, env);
  const head = file ? readHead(file) : undefined;
  if (!head) return undefined;
  if ('elf' in head) return head.elf;
  return depth < 4 ? commandArch(root, head.interpreter, env, depth + 1) : undefined;
}

/** the files that speak for an image whose command does not: its shell, its dynamic loaders */
const WITNESSES = ['/bin/sh', '/usr/bin/env', '/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1', '/bin/busybox'];

/**
 * The architecture of the rootfs's binaries: the command's own, else its shell's or loader's;
 * 'other' for an ELF of an architecture testin does not run, undefined when nothing tells.
 */
export function rootfsArch(root: string, argv: readonly string[], env: readonly string[]): Arch | 'other' | undefined {
  const own = argv[0] ? commandArch(root, argv[0], env) : undefined;
  if (own) return own;
  for (const witness of WITNESSES) {
    const found = commandArch(root, witness, env);
    if (found) return found;
  }
  return undefined;
}

import { execFileSync } from 'node:child_process';
import { ToolboxBuildError } from '../contract/errors.js';

export interface SharedLibrary {
  /** the name the binary asks for (libc.so.6), which is the name it gets in the toolbox's lib/ */
  name: string;
  /** where it is on this host */
  path: string;
}

/** What `ldd` printed, as libraries; throws on "not found". The vdso and the loader are left out. */
export function parseLddOutput(text: string, binary: string): SharedLibrary[] {
  const libs: SharedLibrary[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const arrow = /^(\S+)\s+=>\s+(.*?)(?:\s+\(0x[0-9a-f]+\))?$/.exec(line);
    if (!arrow) continue;
    const [, name, target] = arrow as unknown as [string, string, string];
    if (target === 'not found') throw new ToolboxBuildError(`${binary} needs ${name}, which is not installed`, 'build the toolbox from a Debian base image (--toolbox-base debian:trixie-slim)');
    if (target === '' || !target.startsWith('/')) continue; // linux-vdso.so.1 => (nothing)
    libs.push({ name, path: target });
  }
  return libs;
}

/** The loader named in ldd's output (/lib64/ld-linux-x86-64.so.2), if the binary is dynamic. */
export function parseLoader(text: string): string | undefined {
  return /^\s*(\/\S*ld-linux[^\s]*)\s+\(0x/m.exec(text)?.[1];
}

export function isStaticLddOutput(text: string): boolean {
  return /not a dynamic executable|statically linked/.test(text);
}

export function runLdd(binary: string): string {
  try {
    return execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // ldd exits 1 for a static binary and says so on stdout or stderr
    const e = error as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

/** Every shared library the binaries need, one entry per name. */
export function lddClosure(binaries: readonly string[]): { libs: SharedLibrary[]; loader: string | undefined } {
  const byName = new Map<string, SharedLibrary>();
  let loader: string | undefined;
  for (const binary of binaries) {
    const text = runLdd(binary);
    loader ??= parseLoader(text);
    for (const lib of parseLddOutput(text, binary)) if (!byName.has(lib.name)) byName.set(lib.name, lib);
  }
  return { libs: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)), loader };
}

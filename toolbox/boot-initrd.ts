import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ToolboxBuildError } from '../launcher/errors.js';
import { writeCpio, type CpioEntry } from './cpio.js';
import { moduleLoadOrder, parseModulesBuiltin, parseModulesDep } from './module-order.js';

/** what the in-VM init needs to reach its root and its control port */
export const BOOT_MODULES = ['virtio_pci', 'virtio_console', 'fuse', 'virtiofs', 'virtio_net'];

/**
 * The initrd: testin's init, the boot modules of the kernel (from its
 * /lib/modules/<release>, dependencies first, decompressed) and /dev/console.
 * Without a modules folder the kernel must have virtio built in.
 */
export function buildBootInitrd(modulesDir: string | undefined, initBinary: Buffer): Buffer {
  const order = modulesDir
    ? moduleLoadOrder(
        parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8')),
        BOOT_MODULES,
        parseModulesBuiltin(readIfExists(join(modulesDir, 'modules.builtin'))),
      )
    : [];
  const modules = order.map((rel) => plainModule(rel, readFileSync(join(modulesDir as string, rel))));
  const entries: CpioEntry[] = [
    { kind: 'dir', name: 'dev' },
    { kind: 'char', name: 'dev/console', major: 5, minor: 1 },
    { kind: 'dir', name: 'modules' },
    ...modules.map((m): CpioEntry => ({ kind: 'file', name: `modules/${m.name}`, data: m.data })),
    { kind: 'file', name: 'modules/order', data: Buffer.from(modules.map((m) => `${m.name}\n`).join('')) },
    { kind: 'file', name: 'init', data: initBinary, mode: 0o755 },
  ];
  return writeCpio(entries);
}

/** finit_module takes plain .ko files: decompress .ko.xz / .ko.zst / .ko.gz here, once. */
function plainModule(rel: string, data: Buffer): { name: string; data: Buffer } {
  const name = basename(rel);
  const tools: Record<string, string[]> = { '.xz': ['xz', '-dc'], '.zst': ['zstd', '-dc'], '.gz': ['gzip', '-dc'] };
  const ext = Object.keys(tools).find((e) => name.endsWith(`.ko${e}`));
  if (!ext) return { name, data };
  const [tool, ...args] = tools[ext] as [string, ...string[]];
  try {
    return { name: name.slice(0, -ext.length), data: execFileSync(tool, args, { input: data, maxBuffer: 1 << 28 }) };
  } catch (error) {
    throw new ToolboxBuildError(`cannot decompress kernel module ${name} with ${tool}`, `apt-get install -y ${tool === 'zstd' ? 'zstd' : 'xz-utils'}`, error);
  }
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

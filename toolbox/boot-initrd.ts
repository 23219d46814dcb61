import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DEBIAN_TOOLS, decompress, type Decompressors } from './decompress.js';
import { writeCpio, type CpioEntry } from './cpio.js';
import { moduleLoadOrder, parseModulesBuiltin, parseModulesDep } from './module-order.js';

/** what the in-VM init needs to reach its root and its control port */
const BOOT_MODULES = ['virtio_pci', 'virtio_console', 'fuse', 'virtiofs', 'virtio_net'];

/**
 * The initrd: testin's init, the boot modules of the kernel (from its
 * /lib/modules/<release>, dependencies first, decompressed), its modules.devname
 * and /dev/console.
 * Without a modules folder the kernel must have virtio built in.
 */
export function buildBootInitrd(modulesDir: string | undefined, initBinary: Buffer, tools: Decompressors = DEBIAN_TOOLS): Buffer {
  const order = modulesDir
    ? moduleLoadOrder(
        parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8')),
        BOOT_MODULES,
        parseModulesBuiltin(readIfExists(join(modulesDir, 'modules.builtin'))),
      )
    : [];
  const modules = order.map((rel) => plainModule(rel, readFileSync(join(modulesDir as string, rel)), tools));
  const entries: CpioEntry[] = [
    { kind: 'dir', name: 'dev' },
    { kind: 'char', name: 'dev/console', major: 5, minor: 1 },
    { kind: 'dir', name: 'modules' },
    ...modules.map((m): CpioEntry => ({ kind: 'file', name: `modules/${m.name}`, data: m.data })),
    { kind: 'file', name: 'modules/order', data: Buffer.from(modules.map((m) => `${m.name}\n`).join('')) },
    // the static nodes (/dev/loop-control, /dev/net/tun, ...) are made at boot from it, before a snapshot, not on each run
    ...(modulesDir && existsSync(join(modulesDir, 'modules.devname')) ? [{ kind: 'file', name: 'modules/devname', data: readFileSync(join(modulesDir, 'modules.devname')) } satisfies CpioEntry] : []),
    { kind: 'file', name: 'init', data: initBinary, mode: 0o755 },
  ];
  return writeCpio(entries);
}

/** finit_module takes plain .ko files: decompress .ko.xz / .ko.zst / .ko.gz here, once. */
function plainModule(rel: string, data: Buffer, tools: Decompressors): { name: string; data: Buffer } {
  const name = basename(rel);
  const format = ({ '.xz': 'xz', '.zst': 'zstd', '.gz': 'gzip' } as const)[/\.ko(\.(xz|zst|gz))$/.exec(name)?.[1] as '.xz' | '.zst' | '.gz'];
  if (!format) return { name, data };
  try {
    return { name: name.slice(0, name.lastIndexOf('.')), data: decompress(format, data, tools) };
  } catch (error) {
    throw new Error(`cannot decompress kernel module ${name} (${format}): ${(error as Error).message}`, { cause: error });
  }
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

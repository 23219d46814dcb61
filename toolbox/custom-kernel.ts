import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../launcher/errors.js';
import { buildBootInitrd } from './boot-initrd.js';
import { cacheDir, sha256, type Toolbox } from './build-toolbox.js';
import { ELF_MAGIC, extractVmlinux } from './kernel-image.js';
import { readKernelRelease } from './kernel-release.js';
import { TOOLBOX_LAYOUT } from './toolbox-layout.js';

export interface CustomKernelOptions {
  /** bzImage or ELF vmlinux on this host */
  kernel: string;
  /** an initrd whose files are added after testin's (the kernel unpacks both) */
  initrd?: string | undefined;
  /** /lib/modules/<release> of that kernel, when its virtio drivers are modules */
  modules?: string | undefined;
}

/** A user's kernel made ready to boot: a folder holding `kernel` and `initrd.img`, shared read-only with the container. */
export interface CustomKernel {
  dir: string;
  release: string | undefined;
  format: 'elf' | 'bzImage';
  modulesDir: string | undefined;
}

export const CUSTOM_KERNEL_FILES = { kernel: 'kernel', initrd: 'initrd.img' } as const;

function mustExist(path: string, flag: string, what: string): void {
  if (!existsSync(path)) throw new UsageError(`${flag} ${path}: no such ${what}`, `give ${flag} an existing ${what}`);
}

/** Builds (or finds in the cache) the boot files for a user's kernel, with testin's init. */
export function prepareCustomKernel(options: CustomKernelOptions, toolbox: Toolbox, env: NodeJS.ProcessEnv = process.env): CustomKernel {
  mustExist(options.kernel, '--kernel', 'file');
  if (options.initrd) mustExist(options.initrd, '--initrd', 'file');
  if (options.modules) {
    mustExist(join(options.modules, 'modules.dep'), '--modules', 'modules folder (with modules.dep; run depmod)');
  }
  const image = readFileSync(options.kernel);
  const release = options.modules ? basename(options.modules.replace(/\/+$/, '')) : readKernelRelease(image);
  const agent = join(toolbox.dir, TOOLBOX_LAYOUT.agent);
  const key = sha256(
    JSON.stringify([
      sha256(image),
      options.initrd ? stamp(options.initrd) : null,
      options.modules ? stamp(join(options.modules, 'modules.dep')) : null,
      sha256(readFileSync(agent)),
    ]),
  );
  const dir = join(cacheDir(env), 'kernels', key.slice(0, 32));
  const kernelPath = join(dir, CUSTOM_KERNEL_FILES.kernel);
  if (!existsSync(join(dir, CUSTOM_KERNEL_FILES.initrd))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    try {
      writeFileSync(join(tmp, CUSTOM_KERNEL_FILES.kernel), extractVmlinux(image) ?? image);
      const ours = buildBootInitrd(options.modules, readFileSync(agent));
      writeFileSync(join(tmp, CUSTOM_KERNEL_FILES.initrd), options.initrd ? Buffer.concat([ours, readFileSync(options.initrd)]) : ours);
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      throw error;
    }
  }
  const format = readFileSync(kernelPath).subarray(0, 4).equals(ELF_MAGIC) ? 'elf' : 'bzImage';
  return { dir, release, format, modulesDir: options.modules };
}

function stamp(path: string): string {
  const st = statSync(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

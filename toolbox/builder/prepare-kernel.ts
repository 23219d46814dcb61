import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBootInitrd } from '../boot-initrd.js';
import { busyboxTools } from '../decompress.js';
import { ELF_MAGIC, extractVmlinux } from '../kernel-image.js';
import { readKernelRelease } from '../kernel-release.js';
import { KERNEL_VOLUME } from '../../contract/layout.js';

export interface PreparedKernel {
  release: string | undefined;
  format: 'elf' | 'bzImage';
  hasModules: boolean;
}

/**
 * Makes a user's kernel bootable with testin's init: the ELF inside a bzImage
 * (PVH boot, faster), an initrd of testin's init and the kernel's boot
 * modules, then the user's initrd after it. Runs in a helper container with
 * the toolbox mounted: xz and zstd through the toolbox's busybox.
 */
export function prepareKernel(dir: string, agent: Buffer, busybox: string): PreparedKernel {
  const src = join(dir, KERNEL_VOLUME.source);
  const modules = join(src, KERNEL_VOLUME.modules);
  const hasModules = existsSync(join(modules, 'modules.dep'));
  const given = JSON.parse(readFileSync(join(src, KERNEL_VOLUME.meta), 'utf8')) as { release?: string };
  const image = readFileSync(join(src, KERNEL_VOLUME.kernel));
  const tools = busyboxTools(busybox);
  const kernel = extractVmlinux(image, tools) ?? image;
  writeFileSync(join(dir, KERNEL_VOLUME.kernel), kernel);
  const ours = buildBootInitrd(hasModules ? modules : undefined, agent, tools);
  const userInitrd = join(src, KERNEL_VOLUME.initrd);
  writeFileSync(join(dir, KERNEL_VOLUME.initrd), existsSync(userInitrd) ? Buffer.concat([ours, readFileSync(userInitrd)]) : ours);
  const prepared: PreparedKernel = {
    release: given.release ?? readKernelRelease(image),
    format: kernel.subarray(0, 4).equals(ELF_MAGIC) ? 'elf' : 'bzImage',
    hasModules,
  };
  writeFileSync(join(dir, KERNEL_VOLUME.meta), JSON.stringify(prepared));
  writeFileSync(join(dir, KERNEL_VOLUME.complete), 'complete\n');
  return prepared;
}

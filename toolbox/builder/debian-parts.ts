import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES, type ToolboxArch } from '../../contract/arch.js';
import type { VirtiofsdFlavor } from '../../contract/toolbox-manifest.js';
import { isStaticLddOutput, runLdd } from '../ldd-closure.js';
import type { AptResult } from './apt.js';
import { BuildFailure } from './build-failure.js';

/** Where each part of the toolbox is in the builder's Debian, once its packages are installed. */
export interface DebianParts {
  node: string;
  qemu: string;
  qemuModuleDir: string;
  /** folders that hold QEMU's firmware (SeaBIOS lives apart from QEMU's own roms in Debian) */
  firmwareDirs: string[];
  virtiofsd: string;
  virtiofsdFlavor: VirtiofsdFlavor;
  busybox: string;
  /** passt, the user-mode network backend faster than QEMU's slirp; absent in a release without it */
  passt?: string | undefined;
  kernel: string;
  kernelRelease: string;
  modulesDir: string;
}

/** Where each part is looked for, first found wins (Debian 13, then Debian 12 paths); QEMU's by the architectures. */
const candidates = (arch: ToolboxArch) => ({
  qemu: [`/usr/bin/${ARCHES[arch.guest].qemu.binary}`],
  qemuModuleDir: [`/usr/lib/${ARCHES[arch.host].multiarch}/qemu`, '/usr/lib64/qemu', '/usr/lib/qemu'],
  firmwareDirs: ['/usr/share/qemu', '/usr/share/seabios'],
  rustVirtiofsd: ['/usr/libexec/virtiofsd'],
  cVirtiofsd: ['/usr/lib/qemu/virtiofsd'],
  busybox: ['/bin/busybox', '/usr/bin/busybox'],
  passt: ['/usr/bin/passt'],
});

function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

function missing(what: string): never {
  throw new BuildFailure('assemble', `${what} is missing after the packages were installed`, []);
}

export function findDebianParts(node: string, apt: AptResult, arch: ToolboxArch): DebianParts {
  const CANDIDATES = candidates(arch);
  const { binary, firmware } = ARCHES[arch.guest].qemu;
  const qemu = firstExisting(CANDIDATES.qemu) ?? missing(binary);
  const firmwareDirs = CANDIDATES.firmwareDirs.filter((d) => existsSync(d));
  if (firmware[0] && !firmwareDirs.some((d) => existsSync(join(d, firmware[0] as string)))) missing(`QEMU's firmware (${firmware[0]})`);
  const rustVirtiofsd = firstExisting(CANDIDATES.rustVirtiofsd);
  const virtiofsd = rustVirtiofsd ?? firstExisting(CANDIDATES.cVirtiofsd) ?? missing('virtiofsd');
  const busybox = firstExisting(CANDIDATES.busybox);
  if (!busybox || !isStaticLddOutput(runLdd(busybox))) missing('a static busybox');
  if (!existsSync(join(apt.modulesDir, 'modules.dep'))) missing(`modules.dep of ${apt.kernelRelease}`);
  return {
    node,
    qemu,
    qemuModuleDir: firstExisting(CANDIDATES.qemuModuleDir) ?? '',
    firmwareDirs,
    virtiofsd,
    virtiofsdFlavor: rustVirtiofsd ? 'rust' : 'c',
    busybox,
    passt: firstExisting(CANDIDATES.passt),
    kernel: apt.kernelImage,
    kernelRelease: apt.kernelRelease,
    modulesDir: apt.modulesDir,
  };
}

/**
 * The builder's apt steps: the index, Debian's packages for the toolbox
 * (downloaded with progress, then installed), and the kernel package, which is
 * only unpacked (no postinst: no initramfs-tools, no update-initramfs).
 */
import { readdirSync, renameSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES, foreignGuest, toolboxPackages, type ToolboxArch } from '../../contract/arch.js';
import type { BuildEvent } from '../../contract/build-events.js';
import { BuildFailure } from './build-failure.js';
import { runTool } from './run-tool.js';

/** taken when the release has them: the Rust virtiofsd (Debian 13; Debian 12's C one is in qemu-system-common), passt */
const OPTIONAL_PACKAGES = ['virtiofsd', 'passt'] as const;

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const APT_OPTS = ['-q', '-o', 'Dpkg::Use-Pty=0', '-o', 'APT::Color=0'];

export interface AptResult {
  /** package name -> version, of every package installed for the toolbox and the kernel */
  versions: Record<string, string>;
  kernelPackage: string;
  /** /lib/modules/<release> of the unpacked kernel, with its modules.dep */
  modulesDir: string;
  /** the kernel image (bzImage) */
  kernelImage: string;
  kernelRelease: string;
}

type Emit = (event: BuildEvent) => void;

/** "Need to get 85.6 MB of archives." -> bytes */
export function parseNeedToGet(line: string): number | undefined {
  const m = /^Need to get ([\d.,]+) ([kMG]?B)/.exec(line);
  if (!m) return undefined;
  const scale: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 };
  return Math.round(Number((m[1] as string).replace(/,/g, '')) * (scale[m[2] as string] ?? 1));
}

/** "Get:12 http://... trixie/main amd64 qemu-system-x86 amd64 1:10.0.13 [12.3 MB]" -> name and bytes */
export function parseGetLine(line: string): { name: string; bytes: number } | undefined {
  const m = /^Get:\d+ \S+ \S+ (?:\S+ )?(\S+) \S+ \S+ \[([\d.,]+) ([kMG]?B)\]/.exec(line);
  if (!m) return undefined;
  const scale: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 };
  return { name: m[1] as string, bytes: Math.round(Number((m[2] as string).replace(/,/g, '')) * (scale[m[3] as string] ?? 1)) };
}

/** "0 upgraded, 90 newly installed, 0 to remove and 0 not upgraded." -> 90 */
export function parseNewlyInstalled(line: string): number | undefined {
  const m = /(\d+) newly installed/.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** `apt-cache depends linux-image-amd64` -> the versioned kernel package it depends on */
export function parseKernelDependency(text: string): string | undefined {
  return /Depends: (linux-image-\d\S*)/.exec(text)?.[1];
}

async function aptOrFail(stage: 'index' | 'download' | 'install' | 'kernel', what: string, args: string[], onLine?: (line: string) => void): Promise<void> {
  const r = await runTool('apt-get', [...APT_OPTS, ...args], onLine, APT_ENV);
  if (r.code !== 0) throw new BuildFailure(stage, `${what} failed (apt-get exited ${r.code})`, r.tail);
}

async function hasPackage(name: string): Promise<boolean> {
  return (await runTool('apt-cache', ['show', name], () => undefined, APT_ENV)).code === 0;
}

/** what the toolbox takes from Debian for its architectures (contract/arch.ts); the kernel comes from the guest's metapackage's dependency */
export async function installPackages(work: string, arch: ToolboxArch, emit: Emit): Promise<AptResult> {
  const TOOLBOX_PACKAGES = toolboxPackages(arch);
  // a guest of another architecture: its kernel from Debian's index of that architecture (downloaded, never installed)
  const foreign = foreignGuest(arch);
  const KERNEL_METAPACKAGE = `${ARCHES[arch.guest].kernelPackage}${foreign ? `:${foreign}` : ''}`;
  if (foreign) {
    const added = await runTool('dpkg', ['--add-architecture', foreign]);
    if (added.code !== 0) throw new BuildFailure('index', `dpkg --add-architecture ${foreign} failed`, added.tail);
  }
  emit({ kind: 'stage', stage: 'index', detail: `Debian's package index${foreign ? ` (and ${foreign}'s)` : ''}` });
  // an unreachable mirror is only a warning to apt-get update; here it is the failure it will become
  await aptOrFail('index', 'apt-get update', ['update', '--error-on=any']);

  const optional = [];
  for (const name of OPTIONAL_PACKAGES) if (await hasPackage(name)) optional.push(name);
  const packages = [...TOOLBOX_PACKAGES, ...optional];
  let depends = '';
  await runTool('apt-cache', ['depends', KERNEL_METAPACKAGE], (line) => (depends += `${line}\n`), APT_ENV);
  const kernelPackage = parseKernelDependency(depends);
  if (!kernelPackage) throw new BuildFailure('index', `${KERNEL_METAPACKAGE} names no kernel package in this Debian release`, depends.split('\n').slice(-10));

  emit({ kind: 'stage', stage: 'download', detail: `${packages.join(', ')}, ${kernelPackage}` });
  let total = 0;
  let totalBytes = 0;
  let done = 0;
  let bytes = 0;
  const onGet = (line: string): void => {
    totalBytes += parseNeedToGet(line) ?? 0;
    total += parseNewlyInstalled(line) ?? 0;
    const got = parseGetLine(line);
    if (!got) return;
    done += 1;
    bytes += got.bytes;
    emit({ kind: 'progress', stage: 'download', done, total: Math.max(total, done), bytes, totalBytes: Math.max(totalBytes, bytes), item: got.name });
  };
  await aptOrFail('download', 'downloading the packages', ['install', '--download-only', '-y', '--no-install-recommends', ...packages], onGet);
  const installCount = total;
  // the kernel is unpacked, not installed: its postinst wants initramfs-tools
  total += 1;
  const debs = join(work, 'debs');
  mkdirSync(debs, { recursive: true });
  const downloaded = await runTool('sh', ['-c', `cd "$1" && apt-get ${APT_OPTS.join(' ')} download "$2"`, 'sh', debs, kernelPackage], onGet, APT_ENV);
  if (downloaded.code !== 0) throw new BuildFailure('download', `downloading ${kernelPackage} failed`, downloaded.tail);

  emit({ kind: 'stage', stage: 'install', detail: `${installCount} packages` });
  let setUp = 0;
  await aptOrFail('install', 'installing the packages', ['install', '-y', '--no-install-recommends', ...packages], (line) => {
    const m = /^Setting up (\S+)/.exec(line);
    if (m) emit({ kind: 'progress', stage: 'install', done: ++setUp, total: Math.max(installCount, setUp), item: m[1] });
  });

  emit({ kind: 'stage', stage: 'kernel', detail: kernelPackage });
  const kernel = await unpackKernel(work, debs);
  const versions = await installedVersions();
  versions[kernelPackage] = kernel.version;
  return { versions, kernelPackage, ...kernel };
}

/** dpkg-deb -x the kernel package, put its modules where depmod looks, and run depmod */
async function unpackKernel(work: string, debs: string): Promise<{ modulesDir: string; kernelImage: string; kernelRelease: string; version: string }> {
  const deb = readdirSync(debs).find((f) => f.startsWith('linux-image-') && f.endsWith('.deb'));
  if (!deb) throw new BuildFailure('kernel', 'the kernel package was not downloaded', []);
  const root = join(work, 'kernel');
  const x = await runTool('dpkg-deb', ['-x', join(debs, deb), root]);
  if (x.code !== 0) throw new BuildFailure('kernel', `cannot unpack ${deb}`, x.tail);
  let version = '';
  await runTool('dpkg-deb', ['-f', join(debs, deb), 'Version'], (line) => (version ||= line.trim()));
  // Debian 13 ships /usr/lib/modules (merged /usr), Debian 12 /lib/modules
  const from = [join(root, 'usr/lib/modules'), join(root, 'lib/modules')].find((d) => existsSync(d));
  const release = from ? readdirSync(from)[0] : undefined;
  const image = existsSync(join(root, 'boot')) ? readdirSync(join(root, 'boot')).find((f) => f.startsWith('vmlinuz-')) : undefined;
  if (!from || !release || !image) throw new BuildFailure('kernel', `${deb} has no kernel image or no modules`, []);
  const base = join(work, 'modroot');
  mkdirSync(join(base, 'lib/modules'), { recursive: true });
  renameSync(join(from, release), join(base, 'lib/modules', release));
  const depmod = await runTool('depmod', ['-b', base, release]);
  if (depmod.code !== 0) throw new BuildFailure('kernel', `depmod failed for ${release}`, depmod.tail);
  return { modulesDir: join(base, 'lib/modules', release), kernelImage: join(root, 'boot', image), kernelRelease: release, version };
}

async function installedVersions(): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a template
  await runTool('dpkg-query', ['-W', '-f', '${Package}\t${Version}\n'], (line) => {
    const [name, version] = line.split('\t');
    if (name && version) versions[name] = version;
  });
  return versions;
}

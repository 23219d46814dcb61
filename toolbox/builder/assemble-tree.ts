/**
 * Assembles the toolbox tree in the builder container from the installed
 * Debian packages and testin's own files: node, QEMU and its TCG module and
 * firmware, virtiofsd, busybox, passt, the in-VM init (compiled here), the
 * kernel as an ELF vmlinux, the boot initrd, and the ldd closure of every
 * binary with its own loader. The kernel's modules go to a tree of their own.
 */
import { seccompProfile } from '../../contract/seccomp-profile.js';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CONTAINER_INIT_SCRIPT, TOOLBOX_LAYOUT } from '../../contract/layout.js';
import { modulesVolumeName } from '../../contract/docker-names.js';
import type { ToolboxManifest } from '../../contract/toolbox-manifest.js';
import { buildBootInitrd } from '../boot-initrd.js';
import { ELF_MAGIC, extractVmlinux } from '../kernel-image.js';
import { lddClosure } from '../ldd-closure.js';
import { BuildFailure } from './build-failure.js';
import { ARCHES, foreignGuest, initCompiler, type ToolboxArch } from '../../contract/arch.js';
import type { DebianParts } from './debian-parts.js';

/** One file of the tree: copied from the builder's Debian, or generated. */
interface Part {
  path: string;
  mode: number;
  /** a symlink to this target */
  link?: string;
  from?: string;
  data?: Buffer | (() => Buffer);
  package?: string;
}

/** testin's own files, put into the builder by the launcher */
export interface OwnFiles {
  containerInit: string;
  builder: string;
  initSources: string[];
}

export interface AssembleInput {
  parts: DebianParts;
  own: OwnFiles;
  /** Debian packages installed, name -> version */
  packages: Record<string, string>;
  testinVersion: string;
  recipe: string;
  base: { image: string; id: string };
  arch: ToolboxArch;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes the toolbox tree to `toolboxDir` and the kernel's modules to `modulesDir`; returns the manifest. */
export function assembleTree(toolboxDir: string, modulesDir: string, input: AssembleInput): ToolboxManifest {
  const parts = collectParts(input.parts, input.own, input.arch);
  const files: ToolboxManifest['files'] = [];
  const owners = packagesOf(parts.flatMap((p) => (p.from ? [p.from] : [])));
  for (const part of parts) {
    const dest = join(toolboxDir, part.path);
    mkdirSync(dirname(dest), { recursive: true });
    if (part.link) symlinkSync(part.link, dest);
    else if (part.from) copyFileSync(part.from, dest);
    else writeFileSync(dest, typeof part.data === 'function' ? part.data() : (part.data ?? Buffer.alloc(0)));
    if (!part.link) chmodSync(dest, part.mode);
    const content = part.link ? Buffer.from(part.link) : readFileSync(dest);
    files.push({
      path: part.path,
      sha256: sha256(content),
      size: content.length,
      mode: part.mode,
      source: part.from ?? (part.link ? `symlink to ${part.link}` : 'generated'),
      package: part.package ?? (part.from ? owners.get(part.from) : undefined),
    });
  }
  const s = input.parts;
  rmSync(modulesDir, { recursive: true, force: true });
  cpSync(s.modulesDir, modulesDir, { recursive: true, verbatimSymlinks: true });
  const kernelSha = files.find((f) => f.path === TOOLBOX_LAYOUT.kernel)?.sha256 ?? '';
  const modulesHash = sha256([s.kernelRelease, kernelSha, sha256(readFileSync(join(s.modulesDir, 'modules.dep')))].join('\0'));
  // the name says what went in: every file, the packages they came from, the base image
  const packages = Object.fromEntries(Object.entries(input.packages).sort(([a], [b]) => a.localeCompare(b)));
  const hash = sha256(
    [
      ...files.map((f) => `${f.path}\0${f.mode}\0${f.sha256}\n`),
      ...Object.entries(packages).map(([n, v]) => `package ${n} ${v}\n`),
      `base ${input.base.id}\n`,
      `arch ${input.arch.host} ${input.arch.guest}\n`,
    ].join(''),
  );
  const manifest: ToolboxManifest = {
    testin: input.testinVersion,
    hash,
    recipe: input.recipe,
    base: input.base,
    arch: input.arch,
    kernelRelease: s.kernelRelease,
    kernelFormat: readFileSync(join(toolboxDir, TOOLBOX_LAYOUT.kernel)).subarray(0, 4).equals(ELF_MAGIC) ? 'elf' : 'bzImage',
    virtiofsdFlavor: s.virtiofsdFlavor,
    passt: s.passt !== undefined,
    modules: { release: s.kernelRelease, volumeName: modulesVolumeName(s.kernelRelease, modulesHash) },
    packages,
    versions: {
      node: firstLine(execFileSync(s.node, ['--version'], { encoding: 'utf8' })),
      qemu: firstLine(execFileSync(s.qemu, ['--version'], { encoding: 'utf8' })),
      virtiofsd: s.virtiofsdFlavor === 'rust' ? firstLine(execFileSync(s.virtiofsd, ['--version'], { encoding: 'utf8' })) : `C virtiofsd (${packages['qemu-system-common'] ?? '?'})`,
      kernel: s.kernelRelease,
      base: `${input.base.image} (${input.base.id.slice(0, 19)})`,
    },
    files,
  };
  writeFileSync(join(toolboxDir, TOOLBOX_LAYOUT.manifest), JSON.stringify(manifest, null, 2));
  return manifest;
}

function collectParts(s: DebianParts, own: OwnFiles, arch: ToolboxArch): Part[] {
  const { qemu } = ARCHES[arch.guest];
  // TCG itself is a loadable module in Debian's build
  const qemuModules = [qemu.tcgModule].map((m) => join(s.qemuModuleDir, m)).filter((p) => existsSync(p));
  const binaries = [s.node, s.qemu, s.virtiofsd, ...(s.passt ? [s.passt] : []), ...qemuModules];
  let closure: ReturnType<typeof lddClosure>;
  try {
    closure = lddClosure(binaries);
  } catch (error) {
    throw new BuildFailure('assemble', (error as Error).message, []);
  }
  const { libs, loader } = closure;
  if (!loader) throw new BuildFailure('assemble', 'ldd printed no dynamic loader for node and qemu', []);
  // the preloaded libraries are the helpers' (the host's architecture), shared libraries apart from the agent
  const sources = own.initSources.filter((f) => f.endsWith('.c') && !PRELOADED.some((p) => p.source === basename(f)));
  const preloaded = PRELOADED.flatMap((p) => {
    const source = own.initSources.find((f) => basename(f) === p.source);
    return source ? [{ path: p.path, mode: 0o644, data: () => compilePreloaded(source, p), package: 'testin' }] : [];
  });
  // the agent runs on both sides: the container's PID 1 and lease (the host's architecture), the VM's init (the guest's)
  const init = once(() => compileInit(sources, 'gcc'));
  const foreign = foreignGuest(arch);
  const guestInit = foreign ? once(() => compileInit(sources, initCompiler(arch))) : init;
  const firmware = qemu.firmware.flatMap((f) => s.firmwareDirs.map((d) => join(d, f)).find((p) => existsSync(p)) ?? []);
  return [
    { path: TOOLBOX_LAYOUT.containerInit, mode: 0o755, data: Buffer.from(CONTAINER_INIT_SCRIPT) },
    { path: TOOLBOX_LAYOUT.bundle, mode: 0o644, from: own.containerInit, package: 'testin' },
    { path: TOOLBOX_LAYOUT.builderBundle, mode: 0o644, from: own.builder, package: 'testin' },
    { path: TOOLBOX_LAYOUT.node, mode: 0o755, from: s.node, package: ARCHES[arch.host].node.package },
    { path: TOOLBOX_LAYOUT.qemu, mode: 0o755, from: s.qemu },
    { path: TOOLBOX_LAYOUT.virtiofsd, mode: 0o755, from: s.virtiofsd },
    { path: TOOLBOX_LAYOUT.busybox, mode: 0o755, from: s.busybox },
    ...(s.passt ? [{ path: TOOLBOX_LAYOUT.passt, mode: 0o755, from: s.passt }] : []),
    { path: TOOLBOX_LAYOUT.modprobe, mode: 0o777, link: '../bin/busybox' },
    { path: TOOLBOX_LAYOUT.agent, mode: 0o755, data: init, package: 'testin' },
    ...preloaded,
    foreign ? { path: TOOLBOX_LAYOUT.guestAgent, mode: 0o755, data: guestInit, package: 'testin' } : { path: TOOLBOX_LAYOUT.guestAgent, mode: 0o777, link: `../${TOOLBOX_LAYOUT.agent}` },
    { path: TOOLBOX_LAYOUT.seccomp, mode: 0o644, data: () => Buffer.from(`${JSON.stringify(seccompProfile(), null, 2)}\n`), package: 'testin' },
    { path: TOOLBOX_LAYOUT.loader, mode: 0o755, from: loader },
    ...libs.map((l) => ({ path: `${TOOLBOX_LAYOUT.lib}/${l.name}`, mode: 0o755, from: l.path })),
    ...qemuModules.map((m) => ({ path: `${TOOLBOX_LAYOUT.qemuModules}/${basename(m)}`, mode: 0o755, from: m })),
    ...firmware.map((f) => ({ path: `${TOOLBOX_LAYOUT.firmware}/${basename(f)}`, mode: 0o644, from: f })),
    { path: TOOLBOX_LAYOUT.kernel, mode: 0o644, data: () => bootableKernel(s.kernel) },
    { path: TOOLBOX_LAYOUT.initrd, mode: 0o644, data: () => buildBootInitrd(s.modulesDir, guestInit()) },
  ];
}

/** The in-VM init: every .c of initfs/ but the preloaded libraries', compiled together, static, for the guest's architecture. */
function compileInit(sources: readonly string[], gcc: string): Buffer {
  return compileC(sources, gcc, ['-static'], 'testin-init', 'the in-VM init');
}

/** initfs/'s sources of the libraries preloaded into the toolbox's helpers (not part of the agent), and where each goes */
const PRELOADED = [
  { source: 'vmm-hold.c', path: TOOLBOX_LAYOUT.vmmHold, what: 'the VMM hold library' },
  { source: 'huge-bss.c', path: TOOLBOX_LAYOUT.hugeBss, what: 'the huge-page BSS library' },
];

/** A preloaded library: shared, for the helpers' loader and libc, of the host's architecture. */
function compilePreloaded(source: string, p: (typeof PRELOADED)[number]): Buffer {
  return compileC([source], 'gcc', ['-shared', '-fPIC'], basename(p.path), p.what);
}

function compileC(sources: readonly string[], gcc: string, flags: readonly string[], name: string, what: string): Buffer {
  const out = join(dirname(sources[0] ?? '/tmp'), name);
  try {
    execFileSync(gcc, [...flags, '-O2', '-Wall', '-o', out, ...sources], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(out);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    throw new BuildFailure('assemble', `${gcc} could not build ${what}`, (e.stderr?.toString() ?? e.message).split('\n').slice(-20));
  } finally {
    rmSync(out, { force: true });
  }
}

/** The ELF inside the bzImage when it can be taken out (faster boots), else the bzImage itself. */
function bootableKernel(kernel: string): Buffer {
  const image = readFileSync(kernel);
  return extractVmlinux(image) ?? image;
}

/** dpkg -S for every path at once */
function packagesOf(paths: string[]): Map<string, string> {
  const found = new Map<string, string>();
  if (paths.length === 0) return found;
  let text = '';
  try {
    text = execFileSync('dpkg', ['-S', ...paths], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (error) {
    text = (error as { stdout?: string }).stdout ?? '';
  }
  for (const line of text.split('\n')) {
    const match = /^([^:]+(?::[a-z0-9]+)?): (\/.*)$/.exec(line);
    if (match) found.set(match[2] as string, match[1] as string);
  }
  return found;
}

function once<T>(make: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: make() }).v;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

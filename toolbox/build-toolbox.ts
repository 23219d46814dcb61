import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ToolboxBuildError } from '../launcher/errors.js';
import { buildBootInitrd } from './boot-initrd.js';
import { FIRMWARE, QEMU_MODULES, findHostSources, probeHostSources, type HostSources } from './host-sources.js';
import { ELF_MAGIC, extractVmlinux } from './kernel-image.js';
import { lddClosure } from './ldd-closure.js';
import { packageRoot, packageVersion } from './package-root.js';
import { CONTAINER_INIT_SCRIPT, TOOLBOX_LAYOUT, type ToolboxManifest } from './toolbox-layout.js';

export interface Toolbox {
  /** the built tree on the host */
  dir: string;
  /** content hash of every file in the tree */
  hash: string;
  /** docker volume that holds a copy of the tree */
  volumeName: string;
  manifest: ToolboxManifest;
}

/** One file of the tree: copied from the host, or generated. */
interface Part {
  path: string;
  mode: number;
  /** a symlink to this target */
  link?: string;
  from?: string;
  data?: Buffer | (() => Buffer);
  package?: string;
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TESTIN_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'testin');
}

export function volumeNameFor(hash: string): string {
  return `testin-toolbox-${hash.slice(0, 16)}`;
}

/**
 * Builds the /testin tree from this host's packages, or finds it already built
 * from the same inputs (their paths, sizes and mtimes, and testin's own files).
 */
export function buildToolbox(options: { env?: NodeJS.ProcessEnv; force?: boolean } = {}): Toolbox {
  const env = options.env ?? process.env;
  const { bundle, initSources } = testinSources();
  const cache = join(cacheDir(env), 'toolbox');

  // The quick way, taken by every run after the first: the same testin, the same
  // host choices, and every host file the tree was made from unchanged (by stat).
  // It runs no ldd and no dpkg, which cost about 150 ms a run.
  const quick = quickRecordPath(env);
  if (!options.force) {
    const seen = readQuickRecord(quick);
    const dir = seen && join(cache, seen.hash);
    if (seen && dir && seen.files.every(([path, key]) => statKeyOrNone(path) === key) && existsSync(join(dir, TOOLBOX_LAYOUT.manifest))) return loadToolbox(dir, seen.hash);
  }

  const sources = findHostSources(env);
  const parts = collectParts(sources, bundle, initSources);
  const watched = [...parts.flatMap((p) => (p.from ? [p.from] : [])), join(sources.modulesDir, 'modules.dep')];
  const remember = (toolbox: Toolbox): Toolbox => {
    mkdirSync(dirname(quick), { recursive: true });
    writeFileSync(quick, JSON.stringify({ hash: toolbox.hash, files: watched.map((f) => [f, statKeyOrNone(f)]) }));
    return toolbox;
  };

  const fingerprint = sha256(
    JSON.stringify({
      version: packageVersion(),
      init: initSources.map((f) => sha256(readFileSync(f))),
      parts: parts.map((p) => [p.path, p.mode, p.from, p.from ? statKey(p.from) : undefined]),
    }),
  );
  const pointer = join(cache, 'by-input', fingerprint);
  if (!options.force && existsSync(pointer)) {
    const hash = readFileSync(pointer, 'utf8').trim();
    const dir = join(cache, hash);
    if (existsSync(join(dir, TOOLBOX_LAYOUT.manifest))) return remember(loadToolbox(dir, hash));
  }

  const tmp = join(cache, `tmp-${randomBytes(6).toString('hex')}`);
  try {
    const manifest = materialize(tmp, parts, sources);
    const hash = manifest.hash;
    const dir = join(cache, hash);
    if (existsSync(dir)) rmSync(tmp, { recursive: true, force: true });
    else renameSync(tmp, dir);
    mkdirSync(dirname(pointer), { recursive: true });
    writeFileSync(pointer, hash);
    return remember({ dir, hash, volumeName: volumeNameFor(hash), manifest });
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** testin's own inputs to the tree: the container-init bundle and the init's C sources */
function testinSources(): { bundle: string; initSources: string[] } {
  const root = packageRoot();
  const bundle = join(root, 'dist', 'container-init.js');
  if (!existsSync(bundle)) throw new ToolboxBuildError(`${bundle} is missing`, 'run `npm run build` in the testin checkout');
  // the in-VM init: every .c and .h of initfs/, compiled together
  const initSources = readdirSync(join(root, 'initfs')).filter((f) => /\.[ch]$/.test(f)).sort().map((f) => join(root, 'initfs', f));
  return { bundle, initSources };
}

/**
 * Where buildToolbox keeps, for this checkout and host as they are now, the tree
 * it found and the stat of every host file it was made from.
 */
export function quickRecordPath(env: NodeJS.ProcessEnv = process.env): string {
  const { bundle, initSources } = testinSources();
  const key = { version: packageVersion(), probe: probeHostSources(env), bundle: statKey(bundle), init: initSources.map((f) => [f, statKey(f)]) };
  return join(cacheDir(env), 'toolbox', 'by-stat', sha256(JSON.stringify(key)));
}

function readQuickRecord(path: string): { hash: string; files: [string, string][] } | undefined {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as { hash?: unknown; files?: unknown };
    return typeof record.hash === 'string' && Array.isArray(record.files) ? (record as { hash: string; files: [string, string][] }) : undefined;
  } catch {
    return undefined;
  }
}

export function loadToolbox(dir: string, hash: string): Toolbox {
  const manifest = JSON.parse(readFileSync(join(dir, TOOLBOX_LAYOUT.manifest), 'utf8')) as ToolboxManifest;
  return { dir, hash, volumeName: volumeNameFor(hash), manifest };
}

function collectParts(s: HostSources, bundle: string, initSources: string[]): Part[] {
  const qemuModules = QEMU_MODULES.map((m) => join(s.qemuModuleDir, m)).filter((p) => existsSync(p));
  const { libs, loader } = lddClosure([s.node, s.qemu, s.virtiofsd, ...(s.passt ? [s.passt] : []), ...qemuModules]);
  if (!loader) throw new ToolboxBuildError('cannot find the dynamic loader of node and qemu (ldd printed none)', 'check that ldd works on this host');
  const init = once(() => compileInit(initSources.filter((f) => f.endsWith('.c'))));
  const firmware = FIRMWARE.flatMap((f) => s.firmwareDirs.map((d) => join(d, f)).find((p) => existsSync(p)) ?? []);
  return [
    { path: 'bin/container-init', mode: 0o755, data: Buffer.from(CONTAINER_INIT_SCRIPT) },
    { path: 'container-init.js', mode: 0o644, from: bundle },
    { path: 'bin/node', mode: 0o755, from: s.node },
    { path: 'bin/qemu-system-x86_64', mode: 0o755, from: s.qemu },
    { path: 'bin/virtiofsd', mode: 0o755, from: s.virtiofsd },
    { path: 'bin/busybox', mode: 0o755, from: s.busybox },
    ...(s.passt ? [{ path: TOOLBOX_LAYOUT.passt, mode: 0o755, from: s.passt }] : []),
    { path: TOOLBOX_LAYOUT.modprobe, mode: 0o777, link: '../bin/busybox' },
    { path: TOOLBOX_LAYOUT.agent, mode: 0o755, data: init },
    { path: 'lib/ld-linux-x86-64.so.2', mode: 0o755, from: loader },
    ...libs.map((l) => ({ path: `lib/${l.name}`, mode: 0o755, from: l.path })),
    ...qemuModules.map((m) => ({ path: `lib/qemu/${basename(m)}`, mode: 0o755, from: m })),
    ...firmware.map((f) => ({ path: `share/qemu/${basename(f)}`, mode: 0o644, from: f })),
    { path: TOOLBOX_LAYOUT.kernel, mode: 0o644, data: () => bootableKernel(s.kernel), package: packageOf(s.kernel) },
    { path: TOOLBOX_LAYOUT.initrd, mode: 0o644, data: () => buildBootInitrd(s.modulesDir, init()), package: packageOf(s.kernel) },
  ];
}

function materialize(dir: string, parts: Part[], s: HostSources): ToolboxManifest {
  const files: ToolboxManifest['files'] = [];
  const packages = packagesOf(parts.flatMap((p) => (p.from ? [p.from] : [])));
  for (const part of parts) {
    const dest = join(dir, part.path);
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
      package: part.package ?? (part.from ? packages.get(part.from) : undefined),
    });
  }
  const hash = sha256(files.map((f) => `${f.path}\0${f.mode}\0${f.sha256}\n`).join(''));
  const manifest: ToolboxManifest = {
    testin: packageVersion(),
    hash,
    kernelRelease: s.kernelRelease,
    kernelFormat: readFileSync(join(dir, TOOLBOX_LAYOUT.kernel)).subarray(0, 4).equals(ELF_MAGIC) ? 'elf' : 'bzImage',
    virtiofsdFlavor: s.virtiofsdFlavor,
    modules: {
      release: s.kernelRelease,
      hostDir: s.modulesDir,
      volumeName: `testin-modules-${s.kernelRelease}-${sha256(
        [s.kernelRelease, files.find((f) => f.path === TOOLBOX_LAYOUT.kernel)?.sha256, sha256(readFileSync(join(s.modulesDir, 'modules.dep')))].join('\0'),
      ).slice(0, 12)}`,
    },
    versions: {
      node: process.version,
      qemu: firstLine(execFileSync(s.qemu, ['--version'], { encoding: 'utf8' })),
      kernel: s.kernelRelease,
    },
    files,
  };
  writeFileSync(join(dir, TOOLBOX_LAYOUT.manifest), JSON.stringify(manifest, null, 2));
  return manifest;
}

export function compileInit(sources: readonly string[]): Buffer {
  const out = join(tmpdir(), `testin-init-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', out, ...sources], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(out);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new ToolboxBuildError('gcc is missing: the in-VM init is built with gcc -static', 'apt-get install -y gcc libc6-dev', error);
    throw new ToolboxBuildError(`gcc failed on ${sources.join(' ')}: ${e.stderr?.toString() ?? e.message}`, 'install gcc and libc6-dev', error);
  } finally {
    rmSync(out, { force: true });
  }
}

/** The ELF inside the bzImage when it can be taken out (faster boots), else the bzImage itself. */
function bootableKernel(kernel: string): Buffer {
  const image = readFileSync(kernel);
  return extractVmlinux(image) ?? image;
}

function packageOf(path: string): string | undefined {
  return packagesOf([path]).get(path);
}

/** dpkg -S for every path at once; hosts without dpkg simply have no package names. */
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

function statKey(path: string): string {
  const st = statSync(path);
  return `${st.size}:${st.mtimeMs}`;
}

function statKeyOrNone(path: string): string {
  try {
    return statKey(path);
  } catch {
    return 'none';
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

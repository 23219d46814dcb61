/**
 * The VM's root, made in the container: the image's root bound alone (not
 * docker's submounts) where virtiofsd shares it from, the user's mounts moved
 * to their targets under it, docker's /etc files, and the kernel's modules.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { TOOLBOX_LAYOUT, TOOLBOX_MOUNT, WORK_DIR } from '../contract/layout.js';
import type { RunPlan } from '../contract/run-plan.js';
import { rewriteResolvConf } from './guest-network.js';

export interface RootPaths {
  /** the toolbox tree (/testin) */
  toolbox: string;
  /** where the VM's root is put together */
  newRoot: string;
  /** the guest's memory's tmpfs, mounted with the root (one process less before the VM starts) when the run may use a snapshot */
  ram?: { dir: string; sizeBytes: number } | undefined;
}

/** where the guest's memory's tmpfs goes in the container's work folder */
export const ramDir = (work: string): string => join(work, 'ram');

/** made inside the RAM's tmpfs once it is mounted: a second VM of the run (a cold boot after a restore that failed) finds it there */
const RAM_MOUNTED = '.mounted';

export function ramTmpfsMounted(dir: string): boolean {
  return existsSync(join(dir, RAM_MOUNTED));
}

/** The guest's memory's tmpfs, of its size and a little more, into `batch`; markRamTmpfs once the batch ran. */
export function addRamTmpfs(batch: MountBatch, dir: string, sizeBytes: number): MountBatch {
  return batch.mkdir(dir).tmpfs(dir, `size=${Math.ceil(sizeBytes / 2 ** 20) + 16}m,mode=0700`);
}

export function markRamTmpfs(dir: string): void {
  writeFileSync(join(dir, RAM_MOUNTED), '');
}

/**
 * Mounts (and the folders they need) made in order by one process, the
 * toolbox's agent (initfs/mounts.c), stopping at the first that fails (its
 * words on stderr): node starting a process costs ~6 ms here, and a run's root
 * took nine of them when each mount was a busybox of its own.
 */
export class MountBatch {
  #ops: string[] = [];
  readonly #agent: string;

  constructor(toolbox: string) {
    this.#agent = join(toolbox, TOOLBOX_LAYOUT.agent);
  }

  mkdir(path: string): this {
    return this.#add('mkdir', path);
  }

  /** a bind onto a target that may not be there (an image without /etc/hosts): the agent looks, once the mounts before it are made */
  bindIfThere(source: string, target: string): this {
    return this.#add('bind-there', source, target);
  }

  bind(source: string, target: string): this {
    return this.#add('bind', source, target);
  }

  makePrivate(target: string): this {
    return this.#add('private', target);
  }

  readOnly(target: string): this {
    return this.#add('ro', target);
  }

  move(source: string, target: string): this {
    return this.#add('move', source, target);
  }

  tmpfs(target: string, options: string): this {
    return this.#add('tmpfs', target, options);
  }

  #add(...words: string[]): this {
    this.#ops.push(...words);
    return this;
  }

  /** the agent's arguments for the operations so far, which are then the batch's no more; undefined when there are none */
  #take(): string[] | undefined {
    if (this.#ops.length === 0) return undefined;
    const argv = this.argv;
    this.#ops = [];
    return argv;
  }

  /** the agent's arguments so far (for the tests) */
  get argv(): string[] {
    return ['--mount', ...this.#ops];
  }

  run(): void {
    const argv = this.#take();
    if (argv) execFileSync(this.#agent, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** run(), while this process goes on: rejects as execFileSync throws (with the agent's stderr) */
  runAsync(): Promise<void> {
    const argv = this.#take();
    if (!argv) return Promise.resolve();
    return new Promise((resolve, reject) => {
      execFile(this.#agent, argv, { encoding: 'buffer' }, (error, _stdout, stderr) => (error ? reject(Object.assign(error, { stderr })) : resolve()));
    });
  }
}

/** a file's text; '' when it is not there */
export function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/**
 * A path under `root` with its symlinks resolved as the VM will see them: an
 * absolute link (Debian's /lib -> /usr/lib) points into `root`, never out of it.
 * busybox mount finds a mount point again by this name in /proc/mounts.
 */
export function resolveIn(root: string, path: string): string {
  const parts = path.split('/').filter(Boolean);
  const done: string[] = [];
  for (let hops = 0; parts.length > 0; ) {
    const part = parts.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = join(root, ...done, part);
    let link: string | undefined;
    try {
      if (lstatSync(here).isSymbolicLink()) link = readlinkSync(here);
    } catch {
      // not there yet: made later, as a folder
    }
    if (link === undefined || hops++ > 40) {
      done.push(part);
      continue;
    }
    if (link.startsWith('/')) done.length = 0;
    parts.unshift(...posix.normalize(link).split('/').filter(Boolean));
  }
  return join(root, ...done);
}

/** the mount point for a staged mount: a folder, or an empty file for a file bind */
function makeMountPoint(staging: string, dest: string): void {
  if (statSync(staging).isDirectory()) mkdirSync(dest, { recursive: true });
  else if (!existsSync(dest)) {
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, '');
  }
}

/**
 * Docker's /etc/hosts, /etc/hostname and /etc/resolv.conf are bind mounts the
 * bind of / does not carry: the VM gets them too, the resolver pointed at
 * QEMU's DNS forwarder (which asks docker's).
 */
function shareDockerEtcFiles(newRoot: string, batch: MountBatch): void {
  const resolv = join(WORK_DIR, 'resolv.conf');
  writeFileSync(resolv, rewriteResolvConf(readText('/etc/resolv.conf')));
  for (const [source, name] of [['/etc/hosts', 'hosts'], ['/etc/hostname', 'hostname'], [resolv, 'resolv.conf']] as const) {
    if (existsSync(source)) batch.bindIfThere(source, join(newRoot, 'etc', name));
  }
}

/** --no-vm: the user's mounts go to their targets in the container itself. */
export function prepareContainerRoot(plan: RunPlan, toolbox: string): void {
  const batch = new MountBatch(toolbox);
  for (const m of plan.mounts) {
    makeMountPoint(m.staging, m.target);
    batch.move(m.staging, m.target).run();
  }
  if (plan.readonlyRoot) {
    for (const t of plan.tmpfs) mkdirSync(t.target, { recursive: true });
    batch.readOnly('/').run();
  }
}

/**
 * Binds the image's root (alone, not docker's submounts) where virtiofsd will
 * share it from, then moves each user mount from its staging path to its target
 * under it, parents first. --read-only makes only the root's own mount read-only,
 * so the user's rw mounts under it stay writable.
 */
export function bindRoot(plan: RunPlan, paths: RootPaths, mirror: readonly { path: string; readOnly: boolean }[]): void {
  const { newRoot } = paths;
  const batch = new MountBatch(paths.toolbox);
  // --boot: systemd takes a /.dockerenv for a container and then runs as in one (no
  // udev, no machine services); in the VM it is a machine. The file is docker's, of
  // this container's own layer, which goes with the container
  if (plan.boot) rmSync('/.dockerenv', { force: true });
  mkdirSync(newRoot, { recursive: true });
  batch.bind('/', newRoot).makePrivate(newRoot);
  // the toolbox, read-only, so the VM has a static modprobe for images without kmod; under /run,
  // which the VM mounts afresh (its init moves it there): an image's own /testin shows as it is
  const toolboxInVm = join(newRoot, TOOLBOX_MOUNT);
  batch.mkdir(toolboxInVm).bind(paths.toolbox, toolboxInVm).readOnly(toolboxInVm);
  const modules = plan.kernelModules;
  if (modules && existsSync(modules.staging)) {
    // a bind, not a move: a user's kernel keeps its modules in a folder of its volume. The path is
    // resolved in / (the bind of it is not made yet): the same tree, as no mount of docker's is on it
    const dest = join(newRoot, resolveIn('/', `/lib/modules/${modules.release}`));
    batch.mkdir(dest).bind(modules.staging, dest).readOnly(dest);
  }
  const ram = paths.ram && !ramTmpfsMounted(paths.ram.dir) ? paths.ram : undefined;
  if (ram) addRamTmpfs(batch, ram.dir, ram.sizeBytes);
  // docker's files go over the user's mounts (a volume on /etc keeps docker's hosts on top, as in docker); without
  // any, they go with the root's bind, in its one process (each costs ~8 ms here, node waiting)
  const userMounts = plan.mounts.length > 0 || mirror.length > 0;
  if (!userMounts) shareDockerEtcFiles(newRoot, batch);
  batch.run();
  if (ram) markRamTmpfs(ram.dir);
  // the user's mounts one by one: one may go inside another, whose folder must be in place first
  for (const m of plan.mounts) {
    const dest = resolveIn(newRoot, m.target);
    makeMountPoint(m.staging, dest);
    batch.move(m.staging, dest).run();
  }
  for (const m of mirror) {
    const dest = resolveIn(newRoot, m.path);
    makeMountPoint(m.path, dest);
    batch.bind(m.path, dest);
    if (m.readOnly) batch.readOnly(dest);
    batch.run();
  }
  if (userMounts) shareDockerEtcFiles(newRoot, batch);
  if (plan.readonlyRoot) {
    // the VM's init mounts on these; on a read-only root it could not create them
    for (const dir of ['proc', 'sys', 'dev', 'tmp', 'run', ...plan.tmpfs.map((t) => t.target)]) mkdirSync(join(newRoot, dir), { recursive: true });
    batch.readOnly(newRoot);
  }
  batch.run();
}

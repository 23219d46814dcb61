/**
 * A user's kernel (--kernel, --initrd, --modules: files of the client) made
 * bootable on the engine: the files travel by putArchive into a volume named
 * by their content, and a helper with the toolbox mounted prepares them there
 * (the ELF out of a bzImage, an initrd of testin's init and the boot modules).
 * Nothing of the client is bind-mounted: it works against a remote engine.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import type { DockerClient } from '../contract/docker-client.js';
import { CustomKernelError, UsageError } from '../contract/errors.js';
import { createLabels } from '../contract/labels.js';
import { KERNEL_VOLUME, TOOLBOX_LAYOUT, TOOLBOX_MOUNT, toolboxExec } from '../contract/layout.js';
import type { ToolboxFacts } from '../contract/toolbox-manifest.js';
import { runHelper, withHolder } from './helper-container.js';
import { tarOf, type TarEntry } from './tar.js';

export interface CustomKernelOptions {
  /** bzImage or ELF vmlinux on this client */
  kernel: string;
  /** an initrd whose files are added after testin's (the kernel unpacks both) */
  initrd?: string | undefined;
  /** /lib/modules/<release> of that kernel, when its virtio drivers are modules */
  modules?: string | undefined;
}

export interface CustomKernel {
  volume: string;
  release: string | undefined;
  format: 'elf' | 'bzImage';
  hasModules: boolean;
}

function mustExist(path: string, flag: string, what: string): void {
  if (!existsSync(path)) throw new UsageError(`${flag} ${path}: no such ${what}`, `give ${flag} an existing ${what}`);
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** every file of a folder by size and mtime: a changed module shows, without reading them all */
function treeStamp(dir: string): string {
  const lines: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        lines.push(`${p.slice(dir.length)} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return sha256(lines.join('\n'));
}

export async function prepareCustomKernel(docker: DockerClient, facts: ToolboxFacts, options: CustomKernelOptions, env: NodeJS.ProcessEnv = process.env): Promise<CustomKernel> {
  mustExist(options.kernel, '--kernel', 'file');
  if (options.initrd) mustExist(options.initrd, '--initrd', 'file');
  if (options.modules) mustExist(join(options.modules, 'modules.dep'), '--modules', 'modules folder (with modules.dep; run depmod)');
  const release = options.modules ? basename(options.modules.replace(/\/+$/, '')) : undefined;
  const key = sha256(
    JSON.stringify([
      sha256(readFileSync(options.kernel)),
      options.initrd ? sha256(readFileSync(options.initrd)) : null,
      options.modules ? treeStamp(options.modules) : null,
      release,
      // testin's init goes into the initrd: another toolbox, another volume
      facts.hash,
    ]),
  );
  const volume = `testin-kernel-${key.slice(0, 16)}`;
  const recordDir = join(env.TESTIN_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'testin'), 'kernels');
  const existing = await docker.inspectVolume(volume);
  const record = existing && join(recordDir, sha256(`${volume}\0${existing.createdAt}`));
  if (record && existsSync(record)) return JSON.parse(readFileSync(record, 'utf8')) as CustomKernel;

  if (existing) await docker.removeVolume(volume).catch(() => undefined);
  await docker.createVolume(volume, createLabels({ kernel: facts.hash, version: facts.testin }));
  try {
    await fillSources(docker, facts, volume, options, release);
    const prepared = await runHelper(docker, {
      purpose: 'kernel',
      argv: [...toolboxExec(TOOLBOX_LAYOUT.node), `${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.builderBundle}`, 'prepare-kernel', '/k'],
      mounts: [
        { type: 'volume', source: facts.volumeName, target: TOOLBOX_MOUNT, readOnly: true },
        { type: 'volume', source: volume, target: '/k', readOnly: false },
      ],
    });
    const said = prepared.output.trim().split('\n');
    if (prepared.code !== 0) {
      throw new CustomKernelError('TESTIN_CUSTOM_KERNEL', `cannot prepare --kernel ${options.kernel}: ${said.at(-1) ?? `exit ${prepared.code}`}`, 'give a Linux x86-64 kernel (bzImage or vmlinux) and, when its virtio drivers are modules, --modules with its /lib/modules/<release>');
    }
    const meta = JSON.parse(said.filter((l) => l.startsWith('{')).at(-1) ?? '{}') as Omit<CustomKernel, 'volume'>;
    const kernel: CustomKernel = { volume, release: meta.release, format: meta.format, hasModules: meta.hasModules };
    const created = await docker.inspectVolume(volume);
    if (created) {
      mkdirSync(recordDir, { recursive: true });
      writeFileSync(join(recordDir, sha256(`${volume}\0${created.createdAt}`)), JSON.stringify(kernel));
    }
    return kernel;
  } catch (error) {
    await docker.removeVolume(volume).catch(() => undefined);
    throw error;
  }
}

/** the user's files into the volume's src/, through a holder container */
async function fillSources(docker: DockerClient, toolbox: ToolboxFacts, volume: string, options: CustomKernelOptions, release: string | undefined): Promise<void> {
  const mounts = [
    { type: 'volume' as const, source: volume, target: '/k', readOnly: false },
    // the toolbox's busybox keeps the holder up
    { type: 'volume' as const, source: toolbox.volumeName, target: '/t', readOnly: true },
  ];
  await withHolder(docker, 'kernel', mounts, { busybox: `/t/${TOOLBOX_LAYOUT.busybox}` }, async (holder) => {
    const src = KERNEL_VOLUME.source;
    const entries: TarEntry[] = [
      { kind: 'dir', name: src },
      { kind: 'file', name: `${src}/${KERNEL_VOLUME.kernel}`, path: options.kernel },
      { kind: 'data', name: `${src}/${KERNEL_VOLUME.meta}`, data: JSON.stringify({ release }) },
      ...(options.initrd ? [{ kind: 'file' as const, name: `${src}/${KERNEL_VOLUME.initrd}`, path: options.initrd }] : []),
      ...(options.modules ? [{ kind: 'dir' as const, name: `${src}/${KERNEL_VOLUME.modules}` }] : []),
    ];
    await holder.putArchive(tarOf(entries), '/k');
    if (options.modules) {
      // tar-fs is CommonJS: its exports are the default export, in node's ESM and in the bundle alike
      const { pack } = (await import('tar-fs')).default;
      await holder.putArchive(pack(options.modules) as unknown as NodeJS.ReadableStream, `/k/${src}/${KERNEL_VOLUME.modules}`);
    }
  });
}

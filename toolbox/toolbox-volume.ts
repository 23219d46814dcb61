import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerClient } from '../launcher/docker-client.js';
import { TestinError } from '../launcher/errors.js';
import { cacheDir, sha256, type Toolbox } from './build-toolbox.js';
import { packageVersion } from './package-root.js';
import { TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from './toolbox-layout.js';

/** A tiny local image whose containers are never started: they only hold the volume while it is filled. */
export const HELPER_IMAGE = 'testin-helper:1';
export const HELPER_LABEL = 'testin.helper';

export type VolumeState = 'reused' | 'filled';

/** what a volume holds: the toolbox hash, or the modules volume's content-addressed name */
const CONTENT_LABEL = 'testin.content';

export interface VolumeContent {
  name: string;
  labels: Record<string, string>;
  /** host folder whose tree the volume must hold */
  sourceDir: string;
}

/** Names that do not change with every build: what a compose override refers to (`testin toolbox install`). */
export function stableVolumeNames(toolbox: Toolbox): { toolbox: string; modules: string } {
  return { toolbox: `testin-toolbox-${packageVersion()}`, modules: `testin-modules-${toolbox.manifest.modules.release}` };
}

/**
 * Fills the stable-named volumes with this toolbox; a volume of that name with
 * other content (another build of the same version, another kernel build) is
 * replaced.
 */
export async function installToolboxVolumes(docker: DockerClient, toolbox: Toolbox, env: NodeJS.ProcessEnv = process.env): Promise<{ toolbox: string; modules: string; state: VolumeState }> {
  const names = stableVolumeNames(toolbox);
  const contents: VolumeContent[] = [
    { name: names.toolbox, labels: { 'testin.toolbox': toolbox.hash, [CONTENT_LABEL]: toolbox.hash, 'testin.version': packageVersion() }, sourceDir: toolbox.dir },
    {
      name: names.modules,
      labels: { 'testin.modules': toolbox.manifest.modules.release, [CONTENT_LABEL]: toolbox.manifest.modules.volumeName },
      sourceDir: toolbox.manifest.modules.hostDir,
    },
  ];
  let state: VolumeState = 'reused';
  for (const content of contents) {
    const existing = await docker.inspectVolume(content.name);
    if (existing && existing.labels[CONTENT_LABEL] !== content.labels[CONTENT_LABEL]) {
      try {
        await docker.removeVolume(content.name);
      } catch (error) {
        throw new TestinError(
          'TESTIN_VOLUME_IN_USE',
          `volume ${content.name} holds another build and cannot be replaced: ${(error as Error).message}`,
          'stop the containers that use it (docker-compose down) and run `testin toolbox install` again',
          { cause: error },
        );
      }
    }
    if ((await ensureFilledVolume(docker, content, env)) === 'filled') state = 'filled';
  }
  return { ...names, state };
}

/**
 * Removes the toolbox and modules volumes of other builds, and their trees in the
 * host cache; volumes still used by a container are kept (and named).
 */
export async function pruneToolboxVolumes(docker: DockerClient, toolbox: Toolbox, env: NodeJS.ProcessEnv = process.env): Promise<{ removed: string[]; inUse: string[] }> {
  const keep = new Set([toolbox.volumeName, toolbox.manifest.modules.volumeName, ...Object.values(stableVolumeNames(toolbox))]);
  const names = [...new Set([...(await docker.listVolumes('testin.toolbox')), ...(await docker.listVolumes('testin.modules'))])];
  const removed: string[] = [];
  const inUse: string[] = [];
  for (const name of names.filter((n) => !keep.has(n))) {
    try {
      await docker.removeVolume(name);
      removed.push(name);
    } catch {
      inUse.push(name);
    }
  }
  const trees = join(cacheDir(env), 'toolbox');
  for (const entry of existsSync(trees) ? readdirSync(trees) : []) {
    if (/^[0-9a-f]{64}$/.test(entry) && entry !== toolbox.hash) rmSync(join(trees, entry), { recursive: true, force: true });
  }
  return { removed, inUse };
}

/** The toolbox volume and the kernel modules volume, filled when needed. */
export async function ensureToolboxVolumes(docker: DockerClient, toolbox: Toolbox, env: NodeJS.ProcessEnv = process.env): Promise<VolumeState> {
  const version = packageVersion();
  const main = await ensureFilledVolume(
    docker,
    { name: toolbox.volumeName, labels: { 'testin.toolbox': toolbox.hash, 'testin.version': version }, sourceDir: toolbox.dir },
    env,
  );
  const { modules } = toolbox.manifest;
  const mods = await ensureFilledVolume(
    docker,
    { name: modules.volumeName, labels: { 'testin.modules': modules.release, 'testin.version': version }, sourceDir: modules.hostDir },
    env,
  );
  return main === 'filled' || mods === 'filled' ? 'filled' : 'reused';
}

/**
 * Makes sure a docker volume holds the whole tree of a host folder. A fill
 * writes `.complete` last, so a fill cut short is found and redone; a volume
 * seen complete once is remembered on this host and not looked into again.
 */
export async function ensureFilledVolume(docker: DockerClient, content: VolumeContent, env: NodeJS.ProcessEnv = process.env): Promise<VolumeState> {
  const { name } = content;
  const records = join(cacheDir(env), 'volumes');
  const existing = await docker.inspectVolume(name);
  const record = existing ? join(records, sha256(`${name}\0${existing.createdAt}`)) : undefined;
  if (record && existsSync(record)) return 'reused';

  await docker.ensureImportedImage(HELPER_IMAGE, helperImageTar);
  if (!existing) await docker.createVolume(name, content.labels);
  const helper = await docker.createContainer({
    image: HELPER_IMAGE,
    entrypoint: ['/testin-helper-never-started'],
    cmd: [],
    env: [],
    labels: { [HELPER_LABEL]: '1' },
    mounts: [{ type: 'volume', source: name, target: TOOLBOX_MOUNT, readOnly: false }],
    tmpfs: {},
    capAdd: [],
    devices: [],
    securityOpt: [],
    openStdin: false,
  });
  let state: VolumeState = 'reused';
  try {
    if (!existing || !(await helper.pathExists(`${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.complete}`))) {
      const { pack } = await import('tar-fs'); // only when a volume is filled
      await helper.putArchive(pack(content.sourceDir) as unknown as NodeJS.ReadableStream, TOOLBOX_MOUNT);
      await helper.putArchive(await markerTar(), TOOLBOX_MOUNT);
      state = 'filled';
    }
  } catch (error) {
    await helper.remove();
    await docker.removeVolume(name).catch(() => undefined);
    throw error;
  }
  await helper.remove();
  const created = await docker.inspectVolume(name);
  if (created) {
    mkdirSync(records, { recursive: true });
    writeFileSync(join(records, sha256(`${name}\0${created.createdAt}`)), `${name}\n`);
  }
  return state;
}

/** the `.complete` marker, as a one-file tar */
function markerTar(): Promise<NodeJS.ReadableStream> {
  return tarOfTempDir((dir) => writeFileSync(join(dir, TOOLBOX_LAYOUT.complete), 'complete\n'));
}

/** the helper image: one empty folder, imported from a tar (no registry needed) */
function helperImageTar(): Promise<NodeJS.ReadableStream> {
  return tarOfTempDir((dir) => mkdirSync(join(dir, 'testin')));
}

/** a tar stream of a temp folder that `fill` populates; the folder is gone once the stream ends */
async function tarOfTempDir(fill: (dir: string) => void): Promise<NodeJS.ReadableStream> {
  const dir = mkdtempSync(join(tmpdir(), 'testin-tar-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    fill(dir);
  } catch (error) {
    cleanup();
    throw error;
  }
  const { pack } = await import('tar-fs');
  const stream = pack(dir) as unknown as NodeJS.ReadableStream;
  stream.on('end', cleanup);
  stream.on('close', cleanup);
  stream.on('error', cleanup);
  return stream;
}

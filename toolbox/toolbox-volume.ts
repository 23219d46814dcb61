import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-fs';
import type { DockerClient } from '../launcher/docker-client.js';
import { cacheDir, sha256, type Toolbox } from './build-toolbox.js';
import { packageVersion } from './package-root.js';
import { TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from './toolbox-layout.js';

/** A tiny local image whose containers are never started: they only hold the volume while it is filled. */
export const HELPER_IMAGE = 'testin-helper:1';
export const HELPER_LABEL = 'testin.helper';

export type VolumeState = 'reused' | 'filled';

/**
 * Makes sure the docker volume named after the toolbox hash holds the whole
 * tree. A fill writes `.complete` last, so a fill cut short is found and redone;
 * a volume seen complete once is remembered on this host and not looked into again.
 */
export async function ensureToolboxVolume(docker: DockerClient, toolbox: Toolbox, env: NodeJS.ProcessEnv = process.env): Promise<VolumeState> {
  const name = toolbox.volumeName;
  const existing = await docker.inspectVolume(name);
  const record = existing ? join(cacheDir(env), 'volumes', sha256(`${name}\0${existing.createdAt}`)) : undefined;
  if (record && existsSync(record)) return 'reused';

  await docker.ensureImportedImage(HELPER_IMAGE, helperImageTar);
  if (!existing) await docker.createVolume(name, { 'testin.toolbox': toolbox.hash, 'testin.version': packageVersion() });
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
      await helper.putArchive(pack(toolbox.dir) as unknown as NodeJS.ReadableStream, TOOLBOX_MOUNT);
      await helper.putArchive(markerTar(), TOOLBOX_MOUNT);
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
    const path = join(cacheDir(env), 'volumes', sha256(`${name}\0${created.createdAt}`));
    mkdirSync(join(cacheDir(env), 'volumes'), { recursive: true });
    writeFileSync(path, `${name}\n`);
  }
  return state;
}

/** the `.complete` marker, as a one-file tar */
function markerTar(): NodeJS.ReadableStream {
  return tarOfTempDir((dir) => writeFileSync(join(dir, TOOLBOX_LAYOUT.complete), 'complete\n'));
}

/** the helper image: one empty folder, imported from a tar (no registry needed) */
function helperImageTar(): NodeJS.ReadableStream {
  return tarOfTempDir((dir) => mkdirSync(join(dir, 'testin')));
}

/** a tar stream of a temp folder that `fill` populates; the folder is gone once the stream ends */
function tarOfTempDir(fill: (dir: string) => void): NodeJS.ReadableStream {
  const dir = mkdtempSync(join(tmpdir(), 'testin-tar-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    fill(dir);
  } catch (error) {
    cleanup();
    throw error;
  }
  const stream = pack(dir) as unknown as NodeJS.ReadableStream;
  stream.on('end', cleanup);
  stream.on('close', cleanup);
  stream.on('error', cleanup);
  return stream;
}

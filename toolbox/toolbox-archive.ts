/**
 * `testin toolbox save FILE` and `testin toolbox load FILE`: a built toolbox
 * (its tree, its kernel's modules and its facts) carried to an engine that
 * reaches neither a registry nor Debian's mirrors. FILE is a tar (gzip when it
 * ends in .gz or .tgz) whose first entry says what the rest is.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import tarFs from 'tar-fs';
import tarStream from 'tar-stream';
import type { DockerClient } from '../contract/docker-client.js';
import { recipeVolumeName } from '../contract/docker-names.js';
import { TestinError, ToolboxSaveError, UsageError } from '../contract/errors.js';
import { createLabels } from '../contract/labels.js';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import { readToolboxFacts, toolboxLabels, type ToolboxFacts } from '../contract/toolbox-manifest.js';
import { withHolder } from './helper-container.js';
import { readFileFromTar } from './tar.js';

const FACTS_ENTRY = 'testin-toolbox.json';
const FORMAT = 'testin-toolbox/1';

const gzipped = (file: string): boolean => /\.(t?gz)$/.test(file);
/** the archive as a plain tar stream */
const unpacked = (file: string): NodeJS.ReadableStream => (gzipped(file) ? createReadStream(file).pipe(createGunzip()) : createReadStream(file));

/** Writes the toolbox to FILE (atomically: a failed save leaves no file). */
export async function saveToolbox(docker: DockerClient, facts: ToolboxFacts, file: string): Promise<void> {
  const mounts = [
    { type: 'volume' as const, source: facts.volumeName, target: '/x/toolbox', readOnly: true },
    { type: 'volume' as const, source: facts.modulesVolume, target: '/x/modules', readOnly: true },
  ];
  await withHolder(docker, 'save', mounts, { busybox: `/x/toolbox/${TOOLBOX_LAYOUT.busybox}` }, async (holder) => {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const archive = await holder.getArchive('/x');
    if (!archive) throw new ToolboxSaveError(`the engine gave no archive of ${facts.volumeName}`, 'run testin toolbox build, then save again');
    const pack = tarStream.pack();
    pack.entry({ name: FACTS_ENTRY }, JSON.stringify({ format: FORMAT, facts, labels: toolboxLabels(facts) }, null, 2));
    const extract = tarStream.extract();
    extract.on('entry', (header, body, next) => {
      const name = header.name.replace(/^x\/?/, '');
      if (!name) {
        body.resume();
        body.on('end', next);
        return;
      }
      body.pipe(pack.entry({ ...header, name }, next));
    });
    extract.on('finish', () => pack.finalize());
    const out = createWriteStream(tmp);
    await Promise.all([pipeline(archive as Readable, extract), gzipped(file) ? pipeline(pack, createGzip({ level: 1 }), out) : pipeline(pack, out)]);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  });
}

/** Reads FILE's first entry: which toolbox it holds. */
async function readFacts(file: string): Promise<ToolboxFacts> {
  const extract = tarStream.extract();
  const source = createReadStream(file);
  const stream = gzipped(file) ? source.pipe(createGunzip()) : source;
  const first = await new Promise<{ name: string; text: string } | undefined>((resolve, reject) => {
    extract.once('entry', (header, body) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => void chunks.push(c as Buffer));
      body.on('end', () => resolve({ name: header.name, text: Buffer.concat(chunks).toString('utf8') }));
    });
    extract.once('finish', () => resolve(undefined));
    extract.once('error', reject);
    stream.on('error', reject);
    stream.pipe(extract);
  }).finally(() => source.destroy());
  const bad = (): never => {
    throw new UsageError(`${file} is not a toolbox saved by \`testin toolbox save\``, 'give the file that `testin toolbox save FILE` wrote');
  };
  if (!first || first.name !== FACTS_ENTRY) return bad();
  try {
    const doc = JSON.parse(first.text) as { format?: string; facts?: ToolboxFacts; labels?: Record<string, string> };
    const facts = doc.format === FORMAT && doc.facts && doc.labels ? readToolboxFacts(doc.labels) : undefined;
    return facts ?? bad();
  } catch {
    return bad();
  }
}

/** What FILE holds, or a usage error naming it */
export async function readArchiveFacts(file: string): Promise<ToolboxFacts> {
  return readFacts(file).catch((error: unknown) => {
    if (error instanceof TestinError) throw error;
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'give the file that `testin toolbox save FILE` wrote');
  });
}

/**
 * Unpacks FILE's toolbox into a folder of this host, without an engine (testin runtime install
 * --from on a host with containerd and no docker): DEST/toolbox and DEST/modules. Unpacked beside
 * DEST first and renamed: DEST is whole or absent. A DEST already complete is kept.
 */
export async function unpackToolbox(file: string, dest: string): Promise<ToolboxFacts> {
  const facts = await readArchiveFacts(file);
  if (existsSync(join(dest, 'toolbox', TOOLBOX_LAYOUT.complete))) return facts;
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(dest), { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
    await pipeline(unpacked(file) as Readable, tarFs.extract(tmp, { ignore: (name) => name === join(tmp, FACTS_ENTRY) }));
    if (!existsSync(join(tmp, 'toolbox', TOOLBOX_LAYOUT.complete))) {
      throw new UsageError(`${file} holds an incomplete toolbox`, 'save it again from a complete one (testin toolbox build, then save)');
    }
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
    return facts;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Fills the toolbox's volumes from FILE and makes its recipe find it. */
export async function loadToolbox(docker: DockerClient, file: string): Promise<ToolboxFacts> {
  const facts = await readArchiveFacts(file);
  const created: string[] = [];
  for (const [name, labels] of [
    [facts.volumeName, createLabels({ toolbox: facts.hash, version: facts.testin })],
    [facts.modulesVolume, createLabels({ modules: facts.kernelRelease, version: facts.testin })],
  ] as const) {
    if (await docker.inspectVolume(name)) continue;
    await docker.createVolume(name, labels);
    created.push(name);
  }
  const mounts = [
    { type: 'volume' as const, source: facts.volumeName, target: '/toolbox', readOnly: false },
    { type: 'volume' as const, source: facts.modulesVolume, target: '/modules', readOnly: false },
  ];
  try {
    // the archive's own static busybox keeps the holder up: the engine may have nothing else to run
    const busybox = await readFileFromTar(unpacked(file), `toolbox/${TOOLBOX_LAYOUT.busybox}`);
    if (!busybox) throw new UsageError(`${file} holds an incomplete toolbox (no ${TOOLBOX_LAYOUT.busybox})`, 'save it again from a complete one (testin toolbox build, then save)');
    await withHolder(docker, 'load', mounts, { stage: busybox }, async (holder) => {
    // unpacked here: docker's engine takes a gzip archive, Podman's only a plain one
    await holder.putArchive(unpacked(file), '/');
    if (!(await holder.pathExists(`/toolbox/${TOOLBOX_LAYOUT.complete}`))) {
      throw new UsageError(`${file} holds an incomplete toolbox`, 'save it again from a complete one (testin toolbox build, then save)');
    }
    });
    const pointer = recipeVolumeName(facts.recipe);
    await docker.removeVolume(pointer);
    await docker.createVolume(pointer, toolboxLabels(facts));
    created.length = 0;
    return facts;
  } finally {
    for (const name of created) await docker.removeVolume(name).catch(() => undefined);
  }
}


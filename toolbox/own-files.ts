/**
 * testin's own files: the only things of the client that go into a toolbox
 * (the container-init bundle, the builder bundle, the in-VM init's C sources,
 * and the pinned node). Their hash is computed once, at `npm run build`, into
 * dist/testin-files.json, so a run finds its toolbox without reading them.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import { ToolboxBuildError } from '../contract/errors.js';

/** The testin checkout or install: the nearest folder above this file with a package.json named testin. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'testin') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the testin package root');
    dir = parent;
  }
}

let version: string | undefined;
export function packageVersion(): string {
  return (version ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version);
}

export interface OwnFiles {
  containerInit: string;
  builder: string;
  initSources: string[];
}

export function ownFiles(root: string = packageRoot()): OwnFiles {
  const initDir = join(root, 'initfs');
  return {
    containerInit: join(root, 'dist', TOOLBOX_LAYOUT.bundle),
    builder: join(root, 'dist', TOOLBOX_LAYOUT.builderBundle),
    initSources: readdirSync(initDir).filter((f) => /\.[ch]$/.test(f)).sort().map((f) => join(initDir, f)),
  };
}

export const OWN_FILES_RECORD = 'testin-files.json';

/** sha256 of testin's own files and the pinned node's identity (written by the build) */
export function hashOwnFiles(files: OwnFiles, nodePin: string): string {
  const hash = createHash('sha256');
  for (const path of [files.containerInit, files.builder, ...files.initSources]) hash.update(`${path.slice(path.lastIndexOf('/') + 1)}\0`).update(readFileSync(path));
  return hash.update(`node ${nodePin}`).digest('hex');
}

let recorded: string | undefined;
/** the hash `npm run build` recorded; a checkout that was not built has none */
export function ownFilesHash(root: string = packageRoot()): string {
  if (recorded) return recorded;
  const path = join(root, 'dist', OWN_FILES_RECORD);
  if (!existsSync(path)) throw new ToolboxBuildError(`${path} is missing: testin was not built`, 'run `npm run build` in the testin checkout');
  return (recorded = (JSON.parse(readFileSync(path, 'utf8')) as { hash: string }).hash);
}

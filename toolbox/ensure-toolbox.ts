/**
 * Finds the toolbox for this testin and base image on the engine, or builds
 * it there. The warm path is two volume inspections (no builder, no apt): the
 * recipe's volume names the toolbox, whose own volumes must still be there.
 */
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { DockerClient } from '../contract/docker-client.js';
import { recipeVolumeName } from '../contract/docker-names.js';
import { engineArch, type Arch } from '../contract/arch.js';
import { readToolboxFacts, type ToolboxFacts } from '../contract/toolbox-manifest.js';
import { BuildProgress } from './build-progress.js';
import { buildOnEngine } from './engine-build.js';
import { ownFilesHash, packageVersion } from './own-files.js';

/** Debian 13, the current stable; `debian:bookworm-slim` (Debian 12) works too */
export const DEFAULT_TOOLBOX_BASE = 'debian:trixie-slim';

/** --toolbox-base, else TESTIN_TOOLBOX_BASE, else Debian 13 */
export function toolboxBase(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.TESTIN_TOOLBOX_BASE || DEFAULT_TOOLBOX_BASE;
}

/** what a toolbox is made from: this testin (its version and own files), the base image reference, the guest's architecture */
function recipeKey(base: string, guest: Arch): string {
  return createHash('sha256').update(JSON.stringify({ testin: packageVersion(), own: ownFilesHash(), base, guest })).digest('hex');
}

/** the guest's architecture asked for, else the engine's own */
async function guestOf(docker: DockerClient, guest: Arch | undefined): Promise<Arch> {
  return guest ?? engineArch((await docker.engine()).architecture);
}

/** The complete toolbox of this recipe on the engine (for guests of GUEST, else of the engine's architecture), if there is one. */
export async function findToolbox(docker: DockerClient, base: string, guest?: Arch): Promise<ToolboxFacts | undefined> {
  const pointer = await docker.inspectVolume(recipeVolumeName(recipeKey(base, await guestOf(docker, guest))));
  const facts = pointer && readToolboxFacts(pointer.labels);
  if (!facts) return undefined;
  // `docker volume prune` may have taken the toolbox's volumes and left the pointer (or the other way round)
  const [tree, modules] = await Promise.all([docker.inspectVolume(facts.volumeName), docker.inspectVolume(facts.modulesVolume)]);
  return tree && modules ? facts : undefined;
}

export interface EnsureToolboxOptions {
  base: string;
  /** the architecture of its VMs (the image's); the engine's own when not given */
  guest?: Arch | undefined;
  /** build again even when the recipe has a toolbox */
  force?: boolean;
  /** where the build's progress goes */
  progress: Writable & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  /** aborted: the build stops and leaves nothing */
  signal?: AbortSignal | undefined;
}

export async function ensureToolbox(docker: DockerClient, options: EnsureToolboxOptions): Promise<{ facts: ToolboxFacts; built: boolean }> {
  const guest = await guestOf(docker, options.guest);
  if (!options.force) {
    const found = await findToolbox(docker, options.base, guest);
    if (found) return { facts: found, built: false };
  }
  const progress = new BuildProgress(options.progress, options.progress.isTTY === true);
  const facts = await buildOnEngine(docker, { base: options.base, guest, recipe: recipeKey(options.base, guest), progress, env: options.env, signal: options.signal });
  return { facts, built: true };
}

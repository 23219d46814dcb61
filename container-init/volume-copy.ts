/**
 * Docker fills an empty volume from the image: a named or anonymous volume mounted at a path the
 * image has gets what the image has there, and the folder's owner and mode (moby's
 * copyExistingContents), unless it was mounted with nocopy; a volume with anything in it is left
 * as it is. testin mounts volumes at a staging path (the engine never sees their targets), so
 * container-init does it, from the container's root, which is the image's: before the volumes are
 * moved under the VM's root, and before a read-only one is made read-only (the launcher mounts it
 * read-write for this, as the engine's own copy writes into a read-only volume too).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import type { PlanMount } from '../contract/run-plan.js';
import { MountBatch, resolveIn } from './prepare-root.js';

/** Fills each empty volume of `mounts` that asks for it from the image (`image`: its root), then makes the read-only ones so; what could not be copied is said on `warn`. */
export function fillEmptyVolumes(mounts: readonly PlanMount[], toolbox: string, warn: (line: string) => void, image = '/'): void {
  const batch = new MountBatch(toolbox);
  for (const m of mounts) {
    if (!m.copyUp) continue;
    try {
      copyUp(m, image, join(toolbox, TOOLBOX_LAYOUT.busybox));
    } catch (error) {
      const said = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
      warn(`testin: the image's ${m.target} was not copied into its empty volume, as docker would: ${said}\n`);
    }
    if (m.readOnly) batch.readOnly(m.staging);
  }
  batch.run();
}

function copyUp(m: PlanMount, image: string, busybox: string): void {
  const from = resolveIn(image, m.target);
  let folder: ReturnType<typeof statSync>;
  try {
    folder = statSync(from);
  } catch {
    // the image has nothing there: the volume stays as it is
    return;
  }
  if (!folder.isDirectory() || readdirSync(m.staging).length > 0) return;
  // busybox cp -a: modes, owners, times and links kept (a hard link is copied as a file)
  if (readdirSync(from).length > 0) execFileSync(busybox, ['cp', '-a', `${from}/.`, `${m.staging}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
  chownSync(m.staging, folder.uid, folder.gid);
  chmodSync(m.staging, folder.mode & 0o7777);
}

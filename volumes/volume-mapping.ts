import type { ContainerMount } from '../contract/docker-client.js';
import { VOLUME_STAGING } from '../contract/layout.js';
import type { PlanMount, PlanTmpfs } from '../contract/run-plan.js';
import type { MountSpec } from './parse-mounts.js';

export interface VolumeMapping {
  /** the container's mounts (--mount binds, volumes) */
  container: ContainerMount[];
  /** the container's -v binds (SRC:STAGING[:ro]): the engine makes a missing source folder, as docker -v does */
  binds: string[];
  moves: PlanMount[];
  tmpfs: PlanTmpfs[];
}

/**
 * Binds and volumes are mounted into the container at a staging path (so the
 * image's root stays clean of them) and moved under the VM's root by
 * container-init, parents before children; tmpfs mounts are made by the VM's
 * init in guest memory, which is faster than a tmpfs shared over virtiofs.
 * A bind's source is a path of the engine's host, as with docker.
 */
export function mapVolumes(specs: readonly MountSpec[]): VolumeMapping {
  const mapping: VolumeMapping = { container: [], binds: [], moves: [], tmpfs: [] };
  const ordered = [...specs].sort((a, b) => depth(a.target) - depth(b.target) || a.target.localeCompare(b.target));
  for (const spec of ordered) {
    if (spec.type === 'tmpfs') {
      mapping.tmpfs.push({ target: spec.target, options: spec.options });
      continue;
    }
    const staging = `${VOLUME_STAGING}/${mapping.moves.length}`;
    // docker fills an empty volume from the image at its target, which the engine never sees here: container-init does, before the read-only
    const copyUp = spec.type === 'volume' && spec.noCopy !== true;
    if (spec.type === 'bind' && spec.createSource) mapping.binds.push(`${spec.source}:${staging}${spec.readOnly ? ':ro' : ''}`);
    else mapping.container.push({ type: spec.type, source: spec.source, target: staging, readOnly: spec.readOnly && !copyUp });
    mapping.moves.push({ staging, target: spec.target, readOnly: spec.readOnly, ...(copyUp ? { copyUp } : {}) });
  }
  return mapping;
}

function depth(path: string): number {
  return path.split('/').length;
}

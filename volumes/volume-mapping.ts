import type { MountSpec } from './parse-mounts.js';

/** Where container-init finds user mount n before moving it into the VM's root. */
export const VOLUME_STAGING = '/run/testin/volumes';

export interface ContainerMount {
  type: 'bind' | 'volume';
  /** host path, volume name, or undefined for an anonymous volume */
  source?: string | undefined;
  target: string;
  readOnly: boolean;
}

/** A mount container-init moves from its staging path to its target in the VM's root. */
export interface PlannedMount {
  staging: string;
  target: string;
  readOnly: boolean;
}

export interface PlannedTmpfs {
  target: string;
  options: string;
}

export interface VolumeMapping {
  container: ContainerMount[];
  moves: PlannedMount[];
  tmpfs: PlannedTmpfs[];
}

/**
 * Binds and volumes are mounted into the container at a staging path (so the
 * image's root stays clean of them) and moved under the VM's root by
 * container-init, parents before children; tmpfs mounts are made by the VM's
 * init in guest memory, which is faster than a tmpfs shared over virtiofs.
 */
export function mapVolumes(specs: readonly MountSpec[]): VolumeMapping {
  const mapping: VolumeMapping = { container: [], moves: [], tmpfs: [] };
  const ordered = [...specs].sort((a, b) => depth(a.target) - depth(b.target) || a.target.localeCompare(b.target));
  for (const spec of ordered) {
    if (spec.type === 'tmpfs') {
      mapping.tmpfs.push({ target: spec.target, options: spec.options });
      continue;
    }
    const staging = `${VOLUME_STAGING}/${mapping.moves.length}`;
    mapping.container.push({ type: spec.type, source: spec.source, target: staging, readOnly: spec.readOnly });
    mapping.moves.push({ staging, target: spec.target, readOnly: spec.readOnly });
  }
  return mapping;
}

function depth(path: string): number {
  return path.split('/').length;
}

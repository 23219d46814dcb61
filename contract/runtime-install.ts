/**
 * What testin-runtime reads on the host: where the toolbox's tree, its kernel's
 * modules and the snapshots are (host paths, bound into each container it
 * turns into a VM's), and which runc it hands the bundles to. Written by
 * `testin runtime install` (launcher/runtime-setup.ts) into the runtime's folder,
 * with the small script the engine runs as the runtime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Arch } from './arch.js';
import { RuntimeSetupError } from './errors.js';

/** the runtime's folder when the engine's configuration does not name another (TESTIN_RUNTIME_DIR) */
export const DEFAULT_RUNTIME_DIR = '/var/lib/testin/runtime';
/** the runtime's name in the engine's configuration: docker run --runtime testin, a RuntimeClass's handler */
export const DEFAULT_RUNTIME_NAME = 'testin';
export const RUNTIME_CONFIG_FILE = 'config.json';
/** the executable the engine is configured with: a script that runs the runtime's bundle with this node */
export const RUNTIME_SCRIPT = 'testin-runtime';

/** A toolbox the runtime's containers' VMs run on: its folders on this host and what they hold. */
export interface GuestToolbox {
  /** the toolbox's tree on this host (read-only in each container) */
  toolbox: string;
  toolboxHash: string;
  /** the kernel's modules on this host, and their release */
  modules: string;
  kernelRelease: string;
  /** the snapshots folder on this host (read-write), when the toolbox's VMM can save and restore */
  snapshots?: string | undefined;
  /** the toolbox carries passt: the VMs' packets go through it */
  passt: boolean;
}

/** The runtime's install: the engine's own toolbox (whose node runs the runtime), and the toolboxes for other guests. */
export interface RuntimeInstall extends GuestToolbox {
  version: 1;
  /** the architecture of the VMs of the top-level toolbox; the host's own when absent (an install of before issue 26) */
  guest?: Arch | undefined;
  /** toolboxes of other guest architectures (`testin runtime install --platform linux/arm64`): a container whose binaries are of one runs in its VM */
  guests?: Partial<Record<Arch, GuestToolbox>> | undefined;
  /** the runc that gets the bundles (a path, or a name looked up on PATH) */
  runc: string;
}

export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TESTIN_RUNTIME_DIR || DEFAULT_RUNTIME_DIR;
}

export function readRuntimeInstall(dir: string): RuntimeInstall {
  let text: string;
  try {
    text = readFileSync(join(dir, RUNTIME_CONFIG_FILE), 'utf8');
  } catch {
    throw new RuntimeSetupError(`testin-runtime is not installed in ${dir} (no ${RUNTIME_CONFIG_FILE})`, 'run testin runtime install (or testin runtime configure) on this host');
  }
  const install = JSON.parse(text) as RuntimeInstall;
  if (install.version !== 1) throw new RuntimeSetupError(`${join(dir, RUNTIME_CONFIG_FILE)} is of another testin`, 'run testin runtime install again');
  return install;
}

/**
 * The toolbox a container's VM runs on, for the architecture of its binaries (runtime/rootfs-arch.ts):
 * the install's own when they are of its guests' or nothing tells, another guest's when installed,
 * else one line on what to install.
 */
export function guestToolbox(install: RuntimeInstall, binaries: Arch | 'other' | undefined, host: Arch): { toolbox: GuestToolbox; guest: Arch } {
  const own = install.guest ?? host;
  if (binaries === undefined || binaries === own) return { toolbox: install, guest: own };
  if (binaries === 'other') {
    throw new RuntimeSetupError("the container's binaries are of an architecture testin has no VM for", 'run linux/amd64 or linux/arm64 images (docker run --platform)');
  }
  const other = install.guests?.[binaries];
  if (!other) {
    throw new RuntimeSetupError(`the container's binaries are linux/${binaries}: testin-runtime has no toolbox for ${binaries} VMs`, `run testin runtime install --platform linux/${binaries} (or configure) on this host`);
  }
  return { toolbox: other, guest: binaries };
}

/**
 * What testin-runtime reads on the host: where the toolbox's tree, its kernel's
 * modules and the snapshots are (host paths, bound into each container it
 * turns into a VM's), and which runc it hands the bundles to. Written by
 * `testin runtime install` (launcher/runtime-setup.ts) into the runtime's folder,
 * with the small script the engine runs as the runtime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeSetupError } from './errors.js';

/** the runtime's folder when the engine's configuration does not name another (TESTIN_RUNTIME_DIR) */
export const DEFAULT_RUNTIME_DIR = '/var/lib/testin/runtime';
/** the runtime's name in the engine's configuration: docker run --runtime testin, a RuntimeClass's handler */
export const DEFAULT_RUNTIME_NAME = 'testin';
export const RUNTIME_CONFIG_FILE = 'config.json';
/** the executable the engine is configured with: a script that runs the runtime's bundle with this node */
export const RUNTIME_SCRIPT = 'testin-runtime';

export interface RuntimeInstall {
  version: 1;
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

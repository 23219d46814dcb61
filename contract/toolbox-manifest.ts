/**
 * What a toolbox is: its manifest (manifest.json in the tree) and the facts a
 * launcher needs of it, carried as labels on its docker volume so that one
 * volume listing finds a toolbox and all it must know to plan a run.
 */
import { ARCHES, archOf, type Arch, type ToolboxArch } from './arch.js';
import { LABELS } from './labels.js';

export type VirtiofsdFlavor = 'c' | 'rust';

export interface ToolboxManifest {
  /** testin's version */
  testin: string;
  /** content hash of the tree (every file's path, mode and sha256) */
  hash: string;
  /** the recipe it was made from: testin's own files and the base image reference */
  recipe: string;
  base: { image: string; id: string };
  /** where its tools run (the engine's) and what runs in its VMs (contract/arch.ts) */
  arch: ToolboxArch;
  kernelRelease: string;
  /** 'elf': a vmlinux booted through the PVH entry; 'bzImage': booted through the firmware */
  kernelFormat: 'elf' | 'bzImage';
  /** 'c' is Debian 12's /usr/lib/qemu/virtiofsd (-o options); 'rust' takes --shared-dir style flags */
  virtiofsdFlavor: VirtiofsdFlavor;
  /** the toolbox carries passt (the faster VM network backend) */
  passt: boolean;
  /** the kernel's modules: not in the toolbox volume but in a volume of their own, which changes only with the kernel */
  modules: { release: string; volumeName: string };
  /** Debian packages the parts came from, name -> version */
  packages: Record<string, string>;
  versions: Record<string, string>;
  files: { path: string; sha256: string; size: number; mode: number; source: string; package?: string | undefined }[];
}

/** The facts of a toolbox that a launcher plans with, as its volume's labels say them. */
export interface ToolboxFacts {
  volumeName: string;
  hash: string;
  recipe: string;
  baseImage: string;
  kernelRelease: string;
  modulesVolume: string;
  passt: boolean;
  /** its QEMU and virtiofsd can save and restore a booted VM (snapshots) */
  snapshots: boolean;
  testin: string;
  /** the architecture of its VMs (its kernel, modules and init) */
  guest: Arch;
  /** the architecture of the engine's host it was built on, where its tools run (a run reads the engine's from it: /info is slow); absent on toolboxes of earlier builds */
  host?: Arch | undefined;
}

/** QEMU >= 9 migrates to and from a file (`file:`), and Debian 13's virtiofsd takes part in a migration; Debian 12's QEMU 7.2 refuses it */
export function snapshotsSupported(manifest: Pick<ToolboxManifest, 'packages' | 'virtiofsdFlavor' | 'arch'>): boolean {
  const version = manifest.packages[ARCHES[manifest.arch.guest].qemu.package] ?? '';
  const major = Number(/^(?:\d+:)?(\d+)\./.exec(version)?.[1] ?? 0);
  return major >= 9 && manifest.virtiofsdFlavor === 'rust';
}

const FACT_LABELS = {
  volumeName: 'testin.toolbox.volume',
  hash: LABELS.toolbox,
  recipe: 'testin.toolbox.recipe',
  baseImage: 'testin.toolbox.base',
  kernelRelease: 'testin.toolbox.kernel',
  modulesVolume: 'testin.toolbox.modules-volume',
  passt: 'testin.toolbox.passt',
  snapshots: 'testin.toolbox.snapshots',
  testin: LABELS.version,
  guest: 'testin.toolbox.guest',
  host: 'testin.toolbox.host',
} as const;

export function factsOf(manifest: ToolboxManifest, volumeName: string): ToolboxFacts {
  return {
    volumeName,
    hash: manifest.hash,
    recipe: manifest.recipe,
    baseImage: manifest.base.image,
    kernelRelease: manifest.kernelRelease,
    modulesVolume: manifest.modules.volumeName,
    passt: manifest.passt,
    snapshots: snapshotsSupported(manifest),
    testin: manifest.testin,
    guest: manifest.arch.guest,
    host: manifest.arch.host,
  };
}

export function toolboxLabels(facts: ToolboxFacts): Record<string, string> {
  return {
    [FACT_LABELS.volumeName]: facts.volumeName,
    [FACT_LABELS.hash]: facts.hash,
    [FACT_LABELS.recipe]: facts.recipe,
    [FACT_LABELS.baseImage]: facts.baseImage,
    [FACT_LABELS.kernelRelease]: facts.kernelRelease,
    [FACT_LABELS.modulesVolume]: facts.modulesVolume,
    [FACT_LABELS.passt]: facts.passt ? '1' : '0',
    [FACT_LABELS.snapshots]: facts.snapshots ? '1' : '0',
    [FACT_LABELS.testin]: facts.testin,
    [FACT_LABELS.guest]: facts.guest,
    ...(facts.host ? { [FACT_LABELS.host]: facts.host } : {}),
  };
}

/** The facts from a recipe volume's labels; undefined when a label is missing (not a recipe volume, or another testin's). */
export function readToolboxFacts(labels: Readonly<Record<string, string>>): ToolboxFacts | undefined {
  const get = (key: keyof typeof FACT_LABELS): string | undefined => labels[FACT_LABELS[key]];
  const [volumeName, hash, recipe, baseImage, kernelRelease, modulesVolume, passt, snapshots, testin, guestLabel] = (
    ['volumeName', 'hash', 'recipe', 'baseImage', 'kernelRelease', 'modulesVolume', 'passt', 'snapshots', 'testin', 'guest'] as const
  ).map(get);
  const guest = guestLabel ? archOf(guestLabel) : undefined;
  if (!volumeName || !hash || !recipe || !baseImage || !kernelRelease || !modulesVolume || passt === undefined || snapshots === undefined || !testin || !guest) return undefined;
  const host = get('host');
  return { volumeName, hash, recipe, baseImage, kernelRelease, modulesVolume, passt: passt === '1', snapshots: snapshots === '1', testin, guest, ...(host && archOf(host) ? { host: archOf(host) } : {}) };
}

/**
 * The toolbox's volumes beyond the content-addressed ones: stable names for
 * compose files (`testin toolbox install`), and pruning the volumes of other
 * builds (`testin toolbox prune`).
 */
import { engineArch, type Arch } from '../contract/arch.js';
import type { DockerClient } from '../contract/docker-client.js';
import { dockerName, recipeVolumeName } from '../contract/docker-names.js';
import { ToolboxBuildError, VolumeInUseError } from '../contract/errors.js';
import { LABELS, createLabels } from '../contract/labels.js';
import { TOOLBOX_LAYOUT, snapshotVolumeName } from '../contract/layout.js';
import type { ToolboxFacts } from '../contract/toolbox-manifest.js';
import { runHelper } from './helper-container.js';
import { packageVersion } from './own-files.js';

export type VolumeState = 'reused' | 'filled';

/**
 * Names that do not change with every build: what a compose override refers to. The toolbox for
 * VMs of another architecture than the engine's has its own (its modules' differ by the kernel's release).
 */
function stableVolumeNames(facts: ToolboxFacts, engine: Arch): { toolbox: string; modules: string } {
  const foreign = facts.guest === engine ? '' : `-${facts.guest}`;
  return { toolbox: `testin-toolbox-${packageVersion()}${foreign}`, modules: dockerName(`testin-modules-${facts.kernelRelease}`) };
}

/**
 * Copies this toolbox into the stable-named volumes; a volume of that name
 * with other content (another build of the same version, another kernel build)
 * is replaced. The copy runs on the engine, with the toolbox's own busybox.
 */
export async function installToolboxVolumes(docker: DockerClient, facts: ToolboxFacts): Promise<{ toolbox: string; modules: string; state: VolumeState }> {
  const names = stableVolumeNames(facts, engineArch((await docker.engine()).architecture));
  const wanted = [
    { name: names.toolbox, from: facts.volumeName, content: facts.hash, labels: createLabels({ toolbox: facts.hash, content: facts.hash, version: packageVersion() }) },
    { name: names.modules, from: facts.modulesVolume, content: facts.modulesVolume, labels: createLabels({ modules: facts.kernelRelease, content: facts.modulesVolume }) },
  ];
  let state: VolumeState = 'reused';
  for (const volume of wanted) {
    const existing = await docker.inspectVolume(volume.name);
    if (existing?.labels[LABELS.content] === volume.content) continue;
    if (existing) {
      try {
        await docker.removeVolume(volume.name);
      } catch (error) {
        throw new VolumeInUseError(volume.name, error);
      }
    }
    await docker.createVolume(volume.name, volume.labels);
    const copied = await runHelper(docker, {
      purpose: 'install',
      argv: [`/from-toolbox/${TOOLBOX_LAYOUT.busybox}`, 'sh', '-c', 'cp -a /from/. /to/'],
      mounts: [
        { type: 'volume', source: facts.volumeName, target: '/from-toolbox', readOnly: true },
        { type: 'volume', source: volume.from, target: '/from', readOnly: true },
        { type: 'volume', source: volume.name, target: '/to', readOnly: false },
      ],
    });
    if (copied.code !== 0) {
      await docker.removeVolume(volume.name).catch(() => undefined);
      throw new ToolboxBuildError(`copying ${volume.from} to ${volume.name} failed: ${copied.output.trim().split('\n').at(-1) ?? ''}`, 'check the free space where docker keeps its volumes (docker system df)');
    }
    state = 'filled';
  }
  return { ...names, state };
}

/**
 * Removes the toolbox and modules volumes of other builds than the current
 * ones (one per guest architecture: an arm64 image's toolbox stays beside the
 * engine's own), and their recipe volumes, snapshots and the users' kernels
 * prepared for them; volumes still used by a container are kept (and named).
 */
export async function pruneToolboxVolumes(docker: DockerClient, current: readonly ToolboxFacts[]): Promise<{ removed: string[]; inUse: string[] }> {
  const engine = engineArch((await docker.engine()).architecture);
  const keep = new Set(current.flatMap((facts) => [facts.volumeName, facts.modulesVolume, recipeVolumeName(facts.recipe), ...Object.values(stableVolumeNames(facts, engine))]));
  const hashes = new Set(current.map((facts) => facts.hash));
  const kernels = (await docker.listVolumes(LABELS.kernel)).filter((v) => !hashes.has(v.labels[LABELS.kernel] ?? ''));
  const snapshots = (await docker.listVolumes(LABELS.snapshots)).filter((v) => !hashes.has(v.labels[LABELS.snapshots] ?? ''));
  const found = [...(await docker.listVolumes(LABELS.toolbox)), ...(await docker.listVolumes(LABELS.modules)), ...kernels, ...snapshots];
  // recipe volumes first: a toolbox must never be found once its volumes may be gone
  const names = [...new Set(found.map((v) => v.name))].filter((n) => !keep.has(n)).sort((a, b) => Number(b.startsWith('testin-recipe-')) - Number(a.startsWith('testin-recipe-')));
  const removed: string[] = [];
  const inUse: string[] = [];
  for (const name of names) {
    try {
      await docker.removeVolume(name);
      removed.push(name);
    } catch {
      inUse.push(name);
    }
  }
  return { removed, inUse };
}

/** The toolbox's snapshots volume (container-init fills it: see container-init/snapshot.ts), made when missing. */
export async function ensureSnapshotVolume(docker: DockerClient, facts: Pick<ToolboxFacts, 'hash'>): Promise<string> {
  const name = snapshotVolumeName(facts.hash);
  if (!(await docker.inspectVolume(name))) {
    // two runs may make it at once: docker's create of an existing volume is no error
    await docker.createVolume(name, createLabels({ snapshots: facts.hash, version: packageVersion() }));
  }
  return name;
}

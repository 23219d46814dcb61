import { resolve } from 'node:path';
import { decideAccel, foreignAccel } from '../../contract/accel.js';
import { describeForeignGuest, engineArch } from '../../contract/arch.js';
import { platformArch } from '../guest-arch.js';
import { UsageError } from '../../contract/errors.js';
import { TOOLBOX_LAYOUT } from '../../contract/layout.js';
import { recipeVolumeName } from '../../contract/docker-names.js';
import type { CliCommand } from './command.js';
import { untilStopped } from './abort-on-stop.js';

const ACTIONS = ['build', 'install', 'prune', 'save', 'load'] as const;

export const toolboxCommand: CliCommand = {
  command: 'toolbox <action> [file]',
  describe:
    'build: build the toolbox on the engine (--force: again); install: copy it to the stable-named volumes compose files use; prune: remove the volumes of other builds; save FILE / load FILE: carry it to an engine without network',
  builder: (y) =>
    y
      .positional('action', { type: 'string', choices: ACTIONS })
      .positional('file', { type: 'string', describe: 'save/load: the archive (gzip when it ends in .gz or .tgz)' })
      .option('force', { type: 'boolean', describe: 'build: build again even when a toolbox of this recipe exists' })
      .option('platform', { type: 'string', describe: "the VMs' platform, linux/amd64 or linux/arm64 (default: the engine's own): the toolbox for images of it" })
      .option('toolbox-base', { type: 'string', describe: 'Debian image the toolbox is built from (default TESTIN_TOOLBOX_BASE, else debian:trixie-slim)' }),
  async run(args) {
    const [{ ensureToolbox, toolboxBase }, { createDockerClient }] = await Promise.all([import('../../toolbox/ensure-toolbox.js'), import('../dockerode-client.js')]);
    const docker = createDockerClient();
    const base = toolboxBase(args['toolbox-base'] as string | undefined);
    const action = args.action as (typeof ACTIONS)[number];
    const file = args.file === undefined ? undefined : resolve(String(args.file));
    if ((action === 'save' || action === 'load') && !file) throw new UsageError(`toolbox ${action} needs a file`, `write testin toolbox ${action} FILE`);
    if (action === 'load') {
      const { loadToolbox } = await import('../../toolbox/toolbox-archive.js');
      const facts = await loadToolbox(docker, file as string);
      process.stdout.write(`loaded ${facts.volumeName} (kernel ${facts.kernelRelease}, built from ${facts.baseImage})\n`);
      return 0;
    }
    // Ctrl-C (or SIGTERM, SIGHUP) stops the build: its builder, scratch and half-filled volumes go, a toolbox there before stays
    const guest = platformArch(args.platform as string | undefined);
    const ensured = await untilStopped((signal) => ensureToolbox(docker, { base, guest, force: args.force === true, progress: process.stderr, signal }));
    if ('code' in ensured) return ensured.code;
    const { facts, built } = ensured.value;
    if (action === 'build') {
      // what a run on this engine will boot with, found out now (and kept) rather than at the first run
      const { probeEngineKvm } = await import('../engine-kvm.js');
      const host = engineArch((await docker.engine()).architecture);
      const foreign = describeForeignGuest({ host, guest: facts.guest });
      const accel = foreign ? foreignAccel('auto', foreign) : decideAccel('auto', (await probeEngineKvm(docker, facts)).facts);
      process.stdout.write(
        `toolbox ${facts.hash}\n  volume  ${facts.volumeName}\n  modules ${facts.modulesVolume} (kernel ${facts.kernelRelease})\n  recipe  ${recipeVolumeName(facts.recipe)}\n  base    ${facts.baseImage}\n  guest   linux/${facts.guest}\n  accel   ${accel.accel}${accel.reason ? ` (${accel.reason})` : ''}\n  ${built ? 'built' : 'reused'}\n`,
      );
    } else if (action === 'install') {
      const { installToolboxVolumes } = await import('../../toolbox/toolbox-volume.js');
      const installed = await installToolboxVolumes(docker, facts);
      process.stdout.write(`${installed.toolbox}\n${installed.modules}\n`);
    } else if (action === 'prune') {
      const [{ pruneToolboxVolumes }, { findToolbox }, { ARCHES }] = await Promise.all([import('../../toolbox/toolbox-volume.js'), import('../../toolbox/ensure-toolbox.js'), import('../../contract/arch.js')]);
      // the current toolbox of every guest architecture stays
      const others = await Promise.all(Object.values(ARCHES).filter((a) => a.name !== facts.guest).map((a) => findToolbox(docker, base, a.name)));
      const pruned = await pruneToolboxVolumes(docker, [facts, ...others.filter((f) => f !== undefined)]);
      for (const name of pruned.removed) process.stdout.write(`removed ${name}\n`);
      for (const name of pruned.inUse) process.stdout.write(`kept ${name} (in use)\n`);
    } else if (action === 'save') {
      const { saveToolbox } = await import('../../toolbox/toolbox-archive.js');
      await saveToolbox(docker, facts, file as string);
      process.stdout.write(`saved ${facts.volumeName} (${TOOLBOX_LAYOUT.manifest}, kernel ${facts.kernelRelease}) to ${file as string}\n`);
    }
    return 0;
  },
};


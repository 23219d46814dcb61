import { UsageError } from '../../contract/errors.js';
import { DEFAULT_RUNTIME_NAME, runtimeDir } from '../../contract/runtime-install.js';
import type { CliCommand } from './command.js';
import type { InstallResult } from '../runtime-setup.js';
import { engineArch, type Arch } from '../../contract/arch.js';
import type { ToolboxFacts } from '../../contract/toolbox-manifest.js';
import { platformArch } from '../guest-arch.js';
import { untilStopped } from './abort-on-stop.js';

const ACTIONS = ['install', 'configure'] as const;
const ENGINES = ['docker', 'containerd'] as const;

export const runtimeCommand: CliCommand = {
  command: 'runtime <action>',
  describe:
    "testin-runtime, the OCI runtime that gives docker, compose and containerd VMs: install puts it on this host (beside the engine's toolbox, or with the toolbox of a saved file: --from); configure installs it and names it in the engine's configuration (docker's daemon.json, a containerd drop-in)",
  builder: (y) =>
    y
      .positional('action', { type: 'string', choices: ACTIONS })
      .option('runtime', { type: 'string', choices: ENGINES, default: 'docker', describe: 'configure: the engine whose configuration names testin-runtime' })
      .option('config', { type: 'string', describe: 'configure: the file to edit (default /etc/docker/daemon.json, or /etc/containerd/conf.d/testin.toml)' })
      .option('name', { type: 'string', default: DEFAULT_RUNTIME_NAME, describe: 'configure: the runtime\'s name (docker run --runtime NAME; a RuntimeClass handler)' })
      .option('dir', { type: 'string', describe: 'where the runtime goes (default TESTIN_RUNTIME_DIR, else /var/lib/testin/runtime)' })
      .option('from', { type: 'string', array: true, describe: 'the toolbox of a `testin toolbox save` file, unpacked into the runtime\'s folder: no engine needed (a containerd or Kubernetes node); once per guest architecture' })
      .option('platform', { type: 'string', array: true, describe: "also the toolbox for VMs of this platform (linux/arm64, linux/amd64): containers whose binaries are of it run in its VMs" })
      .option('toolbox-base', { type: 'string', describe: 'Debian image the toolbox is built from (default TESTIN_TOOLBOX_BASE, else debian:trixie-slim)' }),
  async run(args) {
    const [{ ensureToolbox, toolboxBase }, { createDockerClient }, setup] = await Promise.all([
      import('../../toolbox/ensure-toolbox.js'),
      import('../dockerode-client.js'),
      import('../runtime-setup.js'),
    ]);
    const name = String(args.name);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new UsageError(`--name ${name}: not a runtime name`, 'use letters, digits, ., _ and -');
    const dir = args.dir ? String(args.dir) : runtimeDir();
    const from = ((args.from as string[] | undefined) ?? []).map(String);
    // each platform's guest architecture, checked before anything is built
    const platforms = [...new Set(((args.platform as string[] | undefined) ?? []).map((p) => platformArch(String(p)) as Arch))];
    if (from.length && platforms.length) throw new UsageError('--platform builds toolboxes on the engine; --from takes them from saved files', 'give each platform\'s saved toolbox with --from, or drop --from');
    let installed: InstallResult;
    if (from.length) {
      installed = await setup.installRuntimeFrom(from, dir);
    } else {
      const docker = createDockerClient();
      const base = toolboxBase(args['toolbox-base'] as string | undefined);
      const own = engineArch((await docker.engine()).architecture);
      const toolboxes: ToolboxFacts[] = [];
      for (const guest of [own, ...platforms.filter((p) => p !== own)]) {
        const ensured = await untilStopped((signal) => ensureToolbox(docker, { base, guest, progress: process.stderr, signal }));
        if ('code' in ensured) return ensured.code;
        toolboxes.push(ensured.value.facts);
      }
      installed = await setup.installRuntime(docker, toolboxes[0] as ToolboxFacts, dir, toolboxes.slice(1));
    }
    const others = Object.entries(installed.install.guests ?? {}).map(([arch, t]) => `; ${arch} VMs: toolbox ${t?.toolboxHash.slice(0, 16)}, kernel ${t?.kernelRelease}`);
    process.stdout.write(`installed ${installed.script} (toolbox ${installed.install.toolboxHash.slice(0, 16)}, kernel ${installed.install.kernelRelease}${others.join('')}, runc ${installed.install.runc})\n`);
    if (args.action === 'configure') {
      const configured = setup.configureEngine(args.runtime as (typeof ENGINES)[number], name, installed.script, args.config as string | undefined);
      process.stdout.write(`${configured.changed ? 'added' : 'already has'} runtime "${name}" in ${configured.file}\n${configured.reload}\n`);
    }
    return 0;
  },
};

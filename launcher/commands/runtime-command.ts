import { UsageError } from '../../contract/errors.js';
import { DEFAULT_RUNTIME_NAME, runtimeDir } from '../../contract/runtime-install.js';
import type { CliCommand } from './command.js';
import type { InstallResult } from '../runtime-setup.js';
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
      .option('from', { type: 'string', describe: 'the toolbox of a `testin toolbox save` file, unpacked into the runtime\'s folder: no engine needed (a containerd or Kubernetes node)' })
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
    let installed: InstallResult;
    if (args.from !== undefined) {
      installed = await setup.installRuntimeFrom(String(args.from), dir);
    } else {
      const docker = createDockerClient();
      const ensured = await untilStopped((signal) => ensureToolbox(docker, { base: toolboxBase(args['toolbox-base'] as string | undefined), progress: process.stderr, signal }));
      if ('code' in ensured) return ensured.code;
      installed = await setup.installRuntime(docker, ensured.value.facts, dir);
    }
    process.stdout.write(`installed ${installed.script} (toolbox ${installed.install.toolboxHash.slice(0, 16)}, kernel ${installed.install.kernelRelease}, runc ${installed.install.runc})\n`);
    if (args.action === 'configure') {
      const configured = setup.configureEngine(args.runtime as (typeof ENGINES)[number], name, installed.script, args.config as string | undefined);
      process.stdout.write(`${configured.changed ? 'added' : 'already has'} runtime "${name}" in ${configured.file}\n${configured.reload}\n`);
    }
    return 0;
  },
};

import { UsageError } from '../contract/errors.js';
import { parseMemoryMiB } from '../contract/run-plan.js';
import { resolveProcessSettings } from './build-plan.js';
import { platformArch } from './guest-arch.js';
import { RUN_OPTIONS, type RunOptions, type RunOptionTable } from '../contract/run-options.js';


/** Checks what can be checked without Docker, before anything is started. */
export function validateRunOptions(options: RunOptions): void {
  if (!options.image) throw new UsageError('no image given', 'name one as docker does, e.g. testin run debian:12 uname -a (or --image debian:12 -- uname -a)');
  if (options.command && options.command.length === 0) {
    throw new UsageError('the command after -- is empty', "put a command after --, or leave out -- to run the image's own command");
  }
  if (options.command?.[0] === '') throw new UsageError('the command after -- is an empty string', 'name the program to run after --');
  if (options.cpus !== undefined && !(Number.isInteger(options.cpus) && options.cpus >= 1 && options.cpus <= 64)) {
    throw new UsageError(`invalid --cpus ${String(options.cpus)}`, 'give a whole number of CPUs from 1 to 64');
  }
  if (options.memory !== undefined) parseMemoryMiB(options.memory);
  if (options.stopTimeout !== undefined && !(Number.isFinite(options.stopTimeout) && options.stopTimeout >= 0)) {
    throw new UsageError(`invalid --stop-timeout ${String(options.stopTimeout)}`, 'give a number of seconds, 0 or more');
  }
  if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
    throw new UsageError(`invalid --timeout ${String(options.timeout)}`, 'give a duration such as 30s, 5m or 1h');
  }
  if (options.boot !== undefined && options.noVm) throw new UsageError('--boot boots the image\'s init in a VM: --no-vm has none', 'drop --no-vm, or --boot');
  if (options.bootTimeout !== undefined && !(Number.isFinite(options.bootTimeout) && options.bootTimeout > 0)) {
    throw new UsageError(`invalid --boot-timeout ${String(options.bootTimeout)}`, 'give a duration such as 30s or 5m');
  }
  if (options.cpus !== undefined && options.cpus > 0 && !Number.isInteger(options.cpus)) {
    throw new UsageError(`invalid --cpus ${String(options.cpus)}`, 'give a whole number of CPUs from 1 to 64');
  }
  if ((options.initrd || options.modules) && !options.kernel) {
    throw new UsageError('--initrd and --modules go with --kernel', "add --kernel PATH, or drop them to boot the toolbox's kernel");
  }
  if (options.kernel && options.noVm) throw new UsageError('--kernel and --no-vm exclude each other', 'drop one of them');
  platformArch(options.platform);
  for (const [key, spec] of Object.entries(RUN_OPTIONS as RunOptionTable)) {
    const value = options[key as keyof RunOptions];
    if (spec.choices && value !== undefined && !(spec.choices as readonly unknown[]).includes(value)) {
      throw new UsageError(`invalid --${spec.flag} ${String(value)}`, `use one of ${spec.choices.join(', ')}`);
    }
  }
  // docker's own rules, checked before the engine is asked (it would refuse them after the toolbox and the plan)
  if (options.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(options.name)) {
    throw new UsageError(`invalid --name "${options.name}"`, 'use letters, digits, _ . and -, starting with a letter or digit');
  }
  if (options.hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(options.hostname)) {
    throw new UsageError(`invalid --hostname "${options.hostname}"`, 'use at most 64 letters, digits, . and -, starting with a letter or digit');
  }
  // --cap-*, --ulimit, --sysctl, --shm-size, --security-opt: their one-line errors before anything starts
  resolveProcessSettings(options);
}

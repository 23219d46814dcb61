/**
 * testin-runtime: an OCI runtime for docker and containerd that runs each
 * container's command in a VM. nvidia-container-runtime's way: `create` turns
 * the bundle's config.json into a VM's (vm-bundle.ts), `exec` turns the
 * process file into a client of the VM's session socket, and runc does the rest:
 * every command, those two included, goes to runc with the argv it came with.
 * A failure in testin's own step fails the command before runc has made
 * anything, with one line in runc's log (docker shows it) and on stderr.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PlanError, RuntimeSetupError, TestinError, UsageError } from '../contract/errors.js';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import type { OciProcess, OciSpec } from './oci-spec.js';
import { parseRuncArgv, runcLogLine, type RuncArgv } from './runc-argv.js';
import { guestToolbox, readRuntimeInstall, runtimeDir, type RuntimeInstall } from '../contract/runtime-install.js';
import { engineArch } from '../contract/arch.js';
import { rootfsArch } from './rootfs-arch.js';
import { isVmSpec, vmExecProcess, vmSpec } from './vm-bundle.js';

/** `docker run --annotation testin.vm=false` (or TESTIN_VM=0 in the environment): a plain container, runc's alone */
const wantsVm = (spec: OciSpec): boolean =>
  spec.annotations?.['testin.vm'] !== 'false' && !(spec.process?.env ?? []).some((e) => /^TESTIN_VM=(0|false)$/i.test(e));

function rewriteBundle(args: RuncArgv, install: RuntimeInstall): void {
  const file = join(args.bundle ?? process.cwd(), 'config.json');
  const spec = JSON.parse(readFileSync(file, 'utf8')) as OciSpec;
  if (!spec.process || isVmSpec(spec) || !wantsVm(spec)) return;
  const id = args.id ?? spec.hostname ?? 'testin';
  // the VM is of the architecture of the container's binaries (the runtime gets no image config)
  const root = spec.root?.path ? resolve(args.bundle ?? process.cwd(), spec.root.path) : undefined;
  const host = engineArch(process.arch);
  const { toolbox, guest } = guestToolbox(install, root ? rootfsArch(root, spec.process.args ?? [], spec.process.env ?? []) : undefined, host);
  if (!existsSync(join(toolbox.toolbox, TOOLBOX_LAYOUT.complete))) {
    throw new RuntimeSetupError(`the toolbox testin-runtime was installed with is gone from ${toolbox.toolbox}`, 'run testin runtime install again (a toolbox prune or docker volume prune took it)');
  }
  let vm: OciSpec;
  try {
    // KVM runs only its host's own architecture: no device for another's guest
    vm = vmSpec(spec, { ...install, ...toolbox }, id, { kvm: guest === host && existsSync('/dev/kvm') });
  } catch (error) {
    // the spec's VM settings (its TESTIN_* variables, its testin.* annotations) are the user's
    if (!(error instanceof PlanError || error instanceof UsageError)) throw error;
    throw new RuntimeSetupError(`the container's VM settings: ${error.message.replace(/^bad run plan: /, '')}`, "fix the container's TESTIN_* variable or testin.* annotation (the README lists them and their values)");
  }
  writeFileSync(file, JSON.stringify(vm));
}

function rewriteExec(args: RuncArgv, bundleOf: (id: string) => OciSpec | undefined): void {
  if (!args.processFile || !args.id) return;
  const spec = bundleOf(args.id);
  if (!spec || !isVmSpec(spec)) return;
  const proc = JSON.parse(readFileSync(args.processFile, 'utf8')) as OciProcess;
  writeFileSync(args.processFile, JSON.stringify(vmExecProcess(proc)));
}

/**
 * The spec a container was created with, from runc's state (`runc state` prints the bundle):
 * an exec into a plain container (testin.vm=false) stays runc's.
 */
function bundleSpec(runc: string, argv: readonly string[], id: string): OciSpec | undefined {
  const globals = argv.slice(0, argv.indexOf('exec'));
  const state = spawnSync(runc, [...globals, 'state', id], { encoding: 'utf8' });
  if (state.status !== 0) return undefined;
  const bundle = (JSON.parse(state.stdout) as { bundle?: string }).bundle;
  return bundle ? (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as OciSpec) : undefined;
}

function main(argv: readonly string[]): number {
  const args = parseRuncArgv(argv);
  const needsInstall = args.command === 'create' || args.command === 'run' || args.command === 'exec';
  let runc = process.env.TESTIN_RUNC || 'runc';
  try {
    const install = tryInstall(needsInstall);
    runc = process.env.TESTIN_RUNC || install?.runc || 'runc';
    if ((args.command === 'create' || args.command === 'run') && install) rewriteBundle(args, install);
    if (args.command === 'exec') rewriteExec(args, (id) => bundleSpec(runc, argv, id));
  } catch (error) {
    const message = error instanceof TestinError ? `testin: ${error.message} (fix: ${error.fix})` : `testin-runtime: internal error: ${error instanceof Error ? error.message : String(error)}`;
    if (args.log) {
      try {
        appendFileSync(args.log, runcLogLine(args.logFormat, message));
      } catch {
        // the line still goes to stderr
      }
    }
    process.stderr.write(`${message}\n`);
    return 1;
  }
  const result = spawnSync(runc, argv, { stdio: 'inherit' });
  if (result.error) {
    process.stderr.write(`testin-runtime: cannot run ${runc}: ${result.error.message}\n`);
    return 1;
  }
  return result.status ?? 128 + 9;
}

/** the install's facts; a create or exec without one is refused, another command goes to runc on PATH */
function tryInstall(required: boolean): RuntimeInstall | undefined {
  try {
    return readRuntimeInstall(runtimeDir());
  } catch (error) {
    if (required) throw error;
    return undefined;
  }
}

process.exitCode = main(process.argv.slice(2));

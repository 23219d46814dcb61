/**
 * container-init: PID 1 of the user's container. Reads the run plan, shares the
 * image's root with the VM through virtiofsd, boots the VM and relays the
 * command's output and exit status. Bundled by esbuild into /testin/container-init.js.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { decodePlan, PLAN_ENV, type RunPlan } from '../launcher/run-plan.js';
import { TOOLBOX_LAYOUT, TOOLBOX_MOUNT, WORK_DIR as DEFAULT_WORK_DIR, type ToolboxManifest } from '../toolbox/toolbox-layout.js';
import { FORWARDED_SIGNALS, type ExecRequest } from './control-protocol.js';
import { flushed } from '../launcher/output-sinks.js';
import { resolveUser, UserLookupError } from './resolve-user.js';
import { guestNetSpec, rewriteResolvConf } from './guest-network.js';
import { planFromEnvironment, userMountPoints } from './plan-from-environment.js';
import { runSessionClient } from './session-client.js';
import type { SessionExecRequest } from './session-server.js';
import { VmRun } from './vm-run.js';
import { parentsFirst, shareCaches } from './virtiofsd-args.js';

/** container-init's own failures, as docker run's */
const EXIT_TESTIN_FAILED = 125;
/**
 * Where things are. The defaults are the container's; the variables let the
 * boot benchmark run the same code on the host against a plain folder (its floor).
 */
const TOOLBOX_DIR = process.env.TESTIN_TOOLBOX_DIR ?? TOOLBOX_MOUNT;
const WORK_DIR = process.env.TESTIN_WORK_DIR ?? DEFAULT_WORK_DIR;
const SHARED_ROOT = process.env.TESTIN_SHARED_ROOT;
const MODULES_STAGING = join(WORK_DIR, 'modules');
const REPORT_DIR = join(WORK_DIR, 'report');

function fail(message: string, fix?: string): number {
  process.stderr.write(`testin: ${message}\n${fix ? `  fix: ${fix}\n` : ''}`);
  return EXIT_TESTIN_FAILED;
}

function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** The command's environment: the plan's, plus HOME and HOSTNAME as docker sets them. */
function commandEnv(plan: RunPlan, home: string): string[] {
  const env = [...plan.env];
  const has = (k: string): boolean => env.some((e) => e.startsWith(`${k}=`));
  if (!has('HOSTNAME')) env.unshift(`HOSTNAME=${plan.hostname ?? hostname()}`);
  if (!has('HOME')) env.push(`HOME=${home}`);
  return env;
}

function busyboxMount(...args: string[]): void {
  execFileSync(join(TOOLBOX_DIR, TOOLBOX_LAYOUT.busybox), ['mount', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** the mount point for a staged mount: a folder, or an empty file for a file bind */
function makeMountPoint(staging: string, dest: string): void {
  if (statSync(staging).isDirectory()) mkdirSync(dest, { recursive: true });
  else if (!existsSync(dest)) {
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, '');
  }
}

/**
 * Docker's /etc/hosts, /etc/hostname and /etc/resolv.conf are bind mounts the
 * bind of / does not carry: the VM gets them too, the resolver pointed at
 * QEMU's DNS forwarder (which asks docker's).
 */
function shareDockerEtcFiles(newRoot: string): void {
  const resolv = join(WORK_DIR, 'resolv.conf');
  writeFileSync(resolv, rewriteResolvConf(readText('/etc/resolv.conf')));
  for (const [source, name] of [['/etc/hosts', 'hosts'], ['/etc/hostname', 'hostname'], [resolv, 'resolv.conf']] as const) {
    const dest = join(newRoot, 'etc', name);
    if (!existsSync(source) || !existsSync(dest)) continue;
    busyboxMount('-o', 'bind', source, dest);
  }
}

/** --no-vm: the user's mounts go to their targets in the container itself. */
function prepareContainerRoot(plan: RunPlan): void {
  for (const m of plan.mounts) {
    makeMountPoint(m.staging, m.target);
    busyboxMount('--move', m.staging, m.target);
  }
  if (plan.readonlyRoot) {
    for (const t of plan.tmpfs) mkdirSync(t.target, { recursive: true });
    busyboxMount('-o', 'remount,bind,ro', '/');
  }
}

/** K=V lists: later entries win, order kept */
function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const env = new Map(base.map((e) => [e.slice(0, e.indexOf('=')), e] as const));
  for (const e of overrides) env.set(e.includes('=') ? e.slice(0, e.indexOf('=')) : e, e);
  return [...env.values()];
}

/**
 * Binds the image's root (alone, not docker's submounts) where virtiofsd will
 * share it from, then moves each user mount from its staging path to its target
 * under it, parents first. --read-only makes only the root's own mount read-only,
 * so the user's rw mounts under it stay writable.
 */
function bindRoot(newRoot: string, plan: RunPlan, mirror: readonly { path: string; readOnly: boolean }[]): void {
  mkdirSync(newRoot, { recursive: true });
  const mount = busyboxMount;
  mount('-o', 'bind', '/', newRoot);
  mount('--make-private', newRoot);
  // the toolbox, read-only, so the VM has a static modprobe for images without kmod
  const toolboxInVm = join(newRoot, TOOLBOX_MOUNT);
  mkdirSync(toolboxInVm, { recursive: true });
  mount('-o', 'bind', TOOLBOX_DIR, toolboxInVm);
  mount('-o', 'remount,bind,ro', toolboxInVm);
  const modules = plan.kernelModules;
  if (modules && existsSync(modules.staging)) {
    const dest = join(newRoot, 'lib/modules', modules.release);
    mkdirSync(dest, { recursive: true });
    mount('--move', modules.staging, dest);
  }
  for (const m of plan.mounts) {
    const dest = join(newRoot, m.target);
    makeMountPoint(m.staging, dest);
    mount('--move', m.staging, dest);
  }
  for (const m of mirror) {
    const dest = join(newRoot, m.path);
    makeMountPoint(m.path, dest);
    mount('-o', 'bind', m.path, dest);
    if (m.readOnly) mount('-o', 'remount,bind,ro', dest);
  }
  shareDockerEtcFiles(newRoot);
  if (plan.readonlyRoot) {
    // the VM's init mounts on these; on a read-only root it could not create them
    for (const dir of ['proc', 'sys', 'dev', 'tmp', 'run', ...plan.tmpfs.map((t) => t.target)]) mkdirSync(join(newRoot, dir), { recursive: true });
    mount('-o', 'remount,bind,ro', newRoot);
  }
}

async function main(): Promise<number> {
  if (process.argv[2] === '--exec') {
    return runSessionClient(WORK_DIR, join(TOOLBOX_DIR, TOOLBOX_LAYOUT.busybox), JSON.parse(process.env.TESTIN_EXEC ?? '{}') as SessionExecRequest);
  }
  const manifest = JSON.parse(readFileSync(join(TOOLBOX_DIR, TOOLBOX_LAYOUT.manifest), 'utf8')) as ToolboxManifest;
  const planText = process.env[PLAN_ENV];
  let plan: RunPlan;
  // started by compose: the container's own mounts must reach the VM too
  let mirror: { path: string; readOnly: boolean }[] = [];
  try {
    if (planText) {
      plan = decodePlan(planText);
    } else {
      mkdirSync(WORK_DIR, { recursive: true });
      plan = planFromEnvironment({
        argv: process.argv.slice(2),
        env: process.env,
        cwd: process.cwd(),
        tty: process.stdout.isTTY === true,
        hostname: hostname(),
        modulesRelease: existsSync(MODULES_STAGING) ? manifest.modules.release : undefined,
      });
      mirror = userMountPoints(readText('/proc/self/mountinfo'));
    }
  } catch (error) {
    return fail(`bad run plan: ${(error as Error).message}`, 'see the TESTIN_* variables in the README, or use the same testin version for the launcher and the toolbox');
  }

  let user;
  try {
    const etc = join(SHARED_ROOT ?? '/', 'etc');
    user = resolveUser(plan.user, readText(join(etc, 'passwd')), readText(join(etc, 'group')));
  } catch (error) {
    if (error instanceof UserLookupError) return fail(error.message, 'pick a user that the image has, or a numeric uid:gid');
    throw error;
  }

  const newRoot = SHARED_ROOT ?? join(WORK_DIR, 'new_root');
  try {
    if (plan.noVm) prepareContainerRoot(plan);
    else if (!SHARED_ROOT) bindRoot(newRoot, plan, mirror);
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return fail(`cannot bind the image root for the VM: ${stderr || (error as Error).message}`, 'the container needs CAP_SYS_ADMIN (testin run adds it)');
  }

  if (plan.network.nic && plan.network.backend === 'passt' && !ensureTmp()) {
    process.stderr.write('testin: the image has no /tmp and none can be made, which passt needs: using slirp for the network\n');
    plan = { ...plan, network: { ...plan.network, backend: 'slirp' } };
  }

  const etcDir = join(SHARED_ROOT ?? '/', 'etc');
  const sessionExec = (req: SessionExecRequest): ExecRequest => {
    if (!req.argv?.length) throw new Error('no command');
    const who = resolveUser(req.user ?? plan.user, readText(join(etcDir, 'passwd')), readText(join(etcDir, 'group')));
    return {
      argv: req.argv,
      env: mergeEnv(commandEnv(plan, who.home), req.env ?? []),
      cwd: req.cwd ?? plan.cwd,
      uid: who.uid,
      gid: who.gid,
      groups: who.groups,
      stdin: req.stdin ?? false,
      tty: req.tty,
      tmpfs: [],
    };
  };
  const exec: ExecRequest = {
    argv: plan.argv,
    env: commandEnv(plan, user.home),
    cwd: plan.cwd,
    uid: user.uid,
    gid: user.gid,
    groups: user.groups,
    hostname: plan.hostname ?? hostname(),
    stdin: plan.stdin,
    net: plan.network.nic && !plan.noVm ? guestNetSpec(plan.network.backend) : undefined,
    tty: plan.tty ? { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } : undefined,
    tmpfs: plan.tmpfs,
    volumes: guestVolumes(plan, mirror),
  };
  const vm = new VmRun(plan, manifest, exec, { toolbox: TOOLBOX_DIR, work: WORK_DIR, newRoot }, plan.session ? sessionExec : undefined);
  let grace: NodeJS.Timeout | undefined;
  for (const [name, signo] of Object.entries(FORWARDED_SIGNALS)) {
    process.on(name, () => {
      // docker stop of a session: the VM powers off
      if (plan.session) return vm.shutdown();
      vm.signal(signo);
      if (grace || (name !== 'SIGINT' && name !== 'SIGTERM')) return;
      // the command gets the stop timeout to end by itself, then the VM is stopped hard
      grace = setTimeout(() => {
        process.stderr.write(`testin: the command did not end within ${plan.stopTimeoutMs / 1000} s of ${name}: stopping the VM\n`);
        vm.kill();
      }, plan.stopTimeoutMs);
    });
  }
  const outcome = await vm.run();
  // the launcher's report folder, when it gave one: the VM's timeline for run()'s phases
  if (existsSync(REPORT_DIR)) writeFileSync(join(REPORT_DIR, 'timeline.json'), JSON.stringify(vm.timeline));
  if (outcome.kind === 'exited') return outcome.code;
  process.stderr.write(`testin: ${outcome.reason}\n`);
  if (outcome.consoleTail.length) {
    process.stderr.write(`testin: last ${outcome.consoleTail.length} lines of the guest console:\n${outcome.consoleTail.map((l) => `  | ${l}`).join('\n')}\n`);
  }
  return EXIT_TESTIN_FAILED;
}

main().then(
  async (code) => {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`testin: internal error in container-init: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n  please report it with this output\n`);
    process.exit(EXIT_TESTIN_FAILED);
  },
);

/**
 * passt confines itself in a tmpfs it mounts on /tmp (in a mount namespace of
 * its own), so /tmp must exist in the container. An image without one gets an
 * empty /tmp in this container's layer; the VM mounts its own tmpfs there.
 */
function ensureTmp(): boolean {
  try {
    if (!existsSync('/tmp')) mkdirSync('/tmp', { mode: 0o1777 });
    return true;
  } catch {
    return false;
  }
}

/**
 * The user's volumes and binds (and compose's, mirrored), when they are served
 * by a virtiofsd of their own: the init binds each from that share.
 */
function guestVolumes(plan: RunPlan, mirror: readonly { path: string; readOnly: boolean }[]): ExecRequest['volumes'] {
  if (plan.noVm || SHARED_ROOT) return undefined;
  const targets = [...plan.mounts.map((m) => ({ target: m.target, readOnly: m.readOnly })), ...mirror.map((m) => ({ target: m.path, readOnly: m.readOnly }))];
  return shareCaches(plan.fsCache, targets.length > 0).volumes ? parentsFirst(targets) : undefined;
}

/**
 * A bundle the engine wrote for runc, turned into one whose container runs the
 * container's command in a VM: the process becomes container-init (as root,
 * with the rights vm-container.ts gives every VM's container), with the plan
 * the launcher's own buildPlan makes from the spec (the command's user,
 * capabilities, rlimits, no_new_privs, sysctls, /dev/shm), carried as compose
 * carries it (TESTIN_PLAN, completed from the container when it starts). The
 * toolbox, its modules and the snapshots are bound in from the host. Pure:
 * main.ts reads and writes the files.
 *
 * An exec's process becomes a client of the VM's session socket (as `testin
 * exec` through docker exec), with the exec's argv, environment, working
 * directory, user and terminal.
 */
import { capabilityNames } from '../contract/process-settings.js';
import { CONTAINER_INIT_PATH, MODULES_STAGING, SNAPSHOT_DIR, TOOLBOX_LAYOUT, TOOLBOX_MOUNT, WORK_DIR } from '../contract/layout.js';
import { RUN_OPTIONS, optionsFromVariables, runOptionVariables, type RunOptions } from '../contract/run-options.js';
import { PLAN_ENV, encodePlan, type RunPlan } from '../contract/run-plan.js';
import type { SessionExecRequest } from '../contract/session-protocol.js';
import { seccompProfile } from '../contract/seccomp-profile.js';
import { buildPlan } from '../launcher/build-plan.js';
import { VM_CONTAINER_CAPS } from '../launcher/vm-container.js';
import type { OciCapabilities, OciProcess, OciSpec } from './oci-spec.js';
import type { RuntimeInstall } from '../contract/runtime-install.js';

/** docker's default capability set: container-init has at least it, whatever the command's are (those are the plan's) */
const DOCKER_DEFAULT_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];
const AGENT_PATH = `${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.agent}`;
/** an annotation that names a run option: testin.memory=2g is --memory 2g (docker run --annotation, a Kubernetes pod's annotations) */
export const ANNOTATION_PREFIX = 'testin.';
/** rlimit values at or above this are RLIM_INFINITY (2^64-1, which JSON numbers round) */
const RLIM_INFINITY_FROM = 2 ** 63;
const KVM = { path: '/dev/kvm', major: 10, minor: 232 };

export interface HostFacts {
  /** /dev/kvm exists on this host: it goes into the container (container-init decides whether it can use it) */
  kvm: boolean;
}

/** the bundle is already one of ours (a create tried again) */
export function isVmSpec(spec: OciSpec): boolean {
  return spec.process?.args?.[0] === AGENT_PATH;
}

/** The TESTIN_* variables a spec's annotations give (testin.memory -> TESTIN_MEMORY); unknown testin.* annotations are refused by name. */
export function annotationVariables(annotations: Readonly<Record<string, string>> = {}): string[] {
  const byFlag = new Map<string, string>(runOptionVariables().map((v) => [RUN_OPTIONS[v.key].flag, v.name]));
  const out: string[] = [];
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const name = byFlag.get(key.slice(ANNOTATION_PREFIX.length));
    if (name) out.push(`${name}=${value}`);
  }
  return out;
}

const envMap = (env: readonly string[]): Record<string, string> => Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));

/** The run options the spec says, in docker's terms, so buildPlan makes of them what it makes of `testin run`'s flags. */
export function optionsFromSpec(spec: OciSpec, variables: Readonly<Record<string, string | undefined>>): RunOptions {
  const proc = spec.process as OciProcess;
  const fromVariables = optionsFromVariables(variables);
  const bounding = new Set((proc.capabilities?.bounding ?? []).map((c) => c.replace(/^CAP_/, '')));
  const dropped = capabilityNames(undefined).filter((c) => !bounding.has(c));
  const limit = (v: number): string => (v >= RLIM_INFINITY_FROM ? 'unlimited' : String(v));
  const shm = (spec.mounts ?? []).find((m) => m.destination === '/dev/shm')?.options?.find((o) => o.startsWith('size='));
  const user = proc.user ?? { uid: 0, gid: 0 };
  return {
    ...fromVariables,
    image: '',
    command: proc.args ?? [],
    user: `${user.uid}:${user.gid}`,
    groupAdd: (user.additionalGids ?? []).filter((g) => g !== user.gid).map(String),
    readOnly: spec.root?.readonly === true || fromVariables.readOnly === true,
    capDrop: dropped,
    securityOpt: proc.noNewPrivileges ? ['no-new-privileges'] : [],
    ulimits: (proc.rlimits ?? []).map((r) => `${r.type.replace(/^RLIMIT_/, '').toLowerCase()}=${limit(r.soft)}:${limit(r.hard)}`),
    sysctls: Object.entries(spec.linux?.sysctl ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(shm ? { shmSize: shm.slice('size='.length) } : {}),
  };
}

/** The plan container-init gets (TESTIN_PLAN): the command, environment, working directory and mounts it takes from the container itself. */
export function planFromSpec(spec: OciSpec, install: RuntimeInstall, id: string): RunPlan {
  const variables = envMap([...(spec.process?.env ?? []), ...annotationVariables(spec.annotations)]);
  const options = optionsFromSpec(spec, variables);
  return {
    ...buildPlan(options, {}, {
      runId: id,
      accel: options.accel ?? 'auto',
      hostEnv: variables,
      kernelModules: { staging: MODULES_STAGING, release: install.kernelRelease },
      forwards: [],
      passtAvailable: install.passt,
      snapshotsAvailable: install.snapshots !== undefined,
    }),
    fromContainer: true,
    // docker exec reaches the VM: its session socket is served beside the command
    execs: true,
  };
}

const union = (...lists: (readonly string[] | undefined)[]): string[] => [...new Set(lists.flatMap((l) => l ?? []))];

/** container-init's capabilities: docker's default set and what a VM's container needs, with whatever the spec gave (--privileged: all) */
function vmCapabilities(caps: OciCapabilities | undefined): OciCapabilities {
  const needed = union(DOCKER_DEFAULT_CAPS, VM_CONTAINER_CAPS).map((c) => `CAP_${c}`);
  const set = (l: readonly string[] | undefined): string[] => union(l, needed);
  return { bounding: set(caps?.bounding), effective: set(caps?.effective), permitted: set(caps?.permitted), inheritable: caps?.inheritable ?? [], ambient: caps?.ambient ?? [] };
}

export function vmSpec(spec: OciSpec, install: RuntimeInstall, id: string, host: HostFacts): OciSpec {
  const proc = spec.process;
  if (!proc) return spec;
  const plan = planFromSpec(spec, install, id);
  const linux = spec.linux ?? {};
  const resources = linux.resources ?? {};
  return {
    ...spec,
    // container-init needs a writable root of its own (the VM's is the plan's readonlyRoot)
    root: { ...(spec.root as { path: string }), readonly: false },
    process: {
      ...proc,
      args: [AGENT_PATH, '--init', CONTAINER_INIT_PATH, ...(proc.args ?? [])],
      // stdin always streams: without docker run -i the container's stdin is /dev/null, and the command reads its end, as in runc's container
      env: [...(proc.env ?? []).filter((e) => !e.startsWith(`${PLAN_ENV}=`)), ...annotationVariables(spec.annotations), 'TESTIN_STDIN=1', `${PLAN_ENV}=${encodePlan(plan)}`],
      user: { uid: 0, gid: 0, ...(proc.user?.umask !== undefined ? { umask: proc.user.umask } : {}) },
      capabilities: vmCapabilities(proc.capabilities),
      // the command's no_new_privs is the plan's; QEMU and virtiofsd drop their own rights
      noNewPrivileges: false,
      apparmorProfile: undefined,
    },
    mounts: [
      ...(spec.mounts ?? []),
      { destination: WORK_DIR, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
      { destination: TOOLBOX_MOUNT, type: 'bind', source: install.toolbox, options: ['rbind', 'ro'] },
      { destination: MODULES_STAGING, type: 'bind', source: install.modules, options: ['rbind', 'ro'] },
      ...(plan.snapshot && install.snapshots ? [{ destination: SNAPSHOT_DIR, type: 'bind', source: install.snapshots, options: ['rbind', 'rw'] }] : []),
    ],
    linux: {
      ...linux,
      // only testin's binaries run in this container (the command runs in the VM): the profile of every VM's container
      seccomp: seccompProfile(),
      ...(host.kvm
        ? {
            devices: [...(linux.devices ?? []).filter((d) => d.path !== KVM.path), { type: 'c', path: KVM.path, major: KVM.major, minor: KVM.minor, fileMode: 0o666, uid: 0, gid: 0 }],
            resources: { ...resources, devices: [...(resources.devices ?? []), { allow: true, type: 'c', major: KVM.major, minor: KVM.minor, access: 'rwm' }] },
          }
        : {}),
    },
  };
}

/** An exec's process, made a client of the VM's session socket: the guest runs the exec's command. */
export function vmExecProcess(proc: OciProcess): OciProcess {
  const env = (proc.env ?? []).filter((e) => !e.startsWith('TESTIN_'));
  const request: SessionExecRequest = {
    argv: proc.args ?? [],
    env,
    cwd: proc.cwd || '/',
    user: `${proc.user.uid}:${proc.user.gid}`,
    // docker exec without -i gives the process /dev/null: the guest's command then reads an end of file, as it would
    stdin: true,
    tty: proc.terminal ? { rows: proc.consoleSize?.height || 24, cols: proc.consoleSize?.width || 80 } : undefined,
  };
  return {
    ...proc,
    args: [CONTAINER_INIT_PATH, '--exec'],
    env: [...env.filter((e) => e.startsWith('PATH=')), `TESTIN_EXEC=${JSON.stringify(request)}`],
    cwd: '/',
    user: { uid: 0, gid: 0 },
    apparmorProfile: undefined,
  };
}

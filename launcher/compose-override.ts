import type { RunOptions } from '../contract/run-options.js';
import type { ImageConfig } from '../contract/docker-client.js';
import { PLAN_ENV, encodePlan, parseExposed, type Accel, type RunPlan } from '../contract/run-plan.js';
import { buildPlan } from './build-plan.js';
import { UsageError } from '../contract/errors.js';
import { MODULES_STAGING, WORK_DIR } from '../contract/layout.js';
import { shellWords } from './shell-words.js';
import { securityOptions, vmContainer } from './vm-container.js';

/** The part of a (normalized) compose service that decides how testin runs it. */
export interface ComposeService {
  image?: string;
  entrypoint?: string | string[] | null;
  command?: string | string[] | null;
  user?: string;
  ports?: (string | number | { target: number; protocol?: string })[];
  expose?: (string | number)[];
  network_mode?: string;
  read_only?: boolean;
  cap_add?: string[];
  cap_drop?: string[];
  privileged?: boolean;
  security_opt?: string[];
  /** a list of K=V or a mapping */
  sysctls?: string[] | Record<string, string | number>;
  /** nofile: 1024, or nofile: {soft, hard} */
  ulimits?: Record<string, number | { soft: number; hard: number }>;
  shm_size?: string | number;
  pids_limit?: number;
  group_add?: (string | number)[];
  stop_signal?: string;
  /** linux/arm64, linux/amd64: the VM's architecture when the image has several */
  platform?: string;
}

/** compose's process keys as `testin run`'s options: the same plan fields apply them in the VM */
function processOptions(svc: ComposeService): Partial<RunOptions> {
  const sysctls = Array.isArray(svc.sysctls) ? svc.sysctls : Object.entries(svc.sysctls ?? {}).map(([k, v]) => `${k}=${v}`);
  const ulimits = Object.entries(svc.ulimits ?? {}).map(([name, v]) => (typeof v === 'number' ? `${name}=${v}` : `${name}=${v.soft}:${v.hard}`));
  return {
    capAdd: svc.cap_add,
    capDrop: svc.cap_drop,
    privileged: svc.privileged,
    securityOpt: svc.security_opt,
    sysctls,
    ulimits,
    shmSize: svc.shm_size === undefined ? undefined : String(svc.shm_size),
    pidsLimit: svc.pids_limit,
    groupAdd: svc.group_add?.map(String),
    stopSignal: svc.stop_signal,
  };
}

/** What a service's VM runs on: its guest architecture's toolbox, and the accelerator decided for it. */
export interface ServiceVm {
  volumes: { toolbox: string; modules: string; snapshots?: string | undefined };
  /** add /dev/kvm (the engine's host has one, and the guest is of its architecture) */
  kvm: boolean;
  /** the accelerator, decided from the engine's host and the guest's architecture as for `testin run` */
  accel: Accel;
  /** the toolbox's kernel: its modules volume is shown at /lib/modules/<release> */
  kernelRelease: string;
}

export interface OverrideInput {
  services: Record<string, ComposeService>;
  /** the services to run in a VM */
  chosen: readonly string[];
  /** .Config of each chosen service's image */
  images: Record<string, ImageConfig>;
  /** each chosen service's VM (an arm64 service's toolbox is another than an amd64 one's) */
  vmOf: (service: string) => ServiceVm;
  /**
   * the toolbox carries passt: the VMs' packets go through it, with the seccomp profile it needs
   * (compose takes a file: `seccomp=PATH`, where the profile is written)
   */
  passt?: { seccompFile: string } | undefined;
  /** the base file's `version:`, which compose 1.x wants repeated in an override */
  version?: string | undefined;
}

const words = (v: string | string[] | null | undefined): string[] | undefined =>
  v === undefined || v === null ? undefined : Array.isArray(v) ? v : shellWords(v);

/** compose ports: "8080", "9000:80", "127.0.0.1:9000:80/udp", {target: 80, protocol: udp} -> "80/udp" */
export function containerPort(port: string | number | { target: number; protocol?: string }): string {
  if (typeof port === 'object') return `${port.target}/${port.protocol ?? 'tcp'}`;
  const [spec = '', proto = 'tcp'] = String(port).split('/');
  return `${spec.split(':').at(-1) as string}/${proto}`;
}

/**
 * An override file for `docker-compose -f compose.yml -f <override>` that runs
 * the chosen services' commands in a VM: container-init as entrypoint, the
 * service's own command as its arguments, the toolbox volumes, and the plan
 * `testin run` would make (TESTIN_PLAN). The user's file is untouched.
 */
export function buildComposeOverride(input: OverrideInput): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  const volumes: Record<string, { external: true }> = {};
  for (const name of input.chosen) {
    const svc = input.services[name];
    if (!svc) throw new UsageError(`service "${name}" is not in the compose file`, `pick one of: ${Object.keys(input.services).join(', ')}`);
    const { volumes: own, kvm, accel, kernelRelease } = input.vmOf(name);
    for (const volume of [own.toolbox, own.modules, own.snapshots]) if (volume) volumes[volume] = { external: true };
    const image = input.images[name] ?? {};
    const entrypoint = words(svc.entrypoint) ?? image.Entrypoint ?? [];
    const command = words(svc.command) ?? (svc.entrypoint !== undefined && svc.entrypoint !== null ? [] : (image.Cmd ?? []));
    const argv = [...entrypoint, ...command];
    if (argv.length === 0) throw new UsageError(`service "${name}" has no command and its image none either`, 'give the service a command:');
    const exposed = [...new Set([...(svc.ports ?? []).map(containerPort), ...(svc.expose ?? []).map((e) => containerPort(e)), ...Object.keys(image.ExposedPorts ?? {})])];
    // the same plan `testin run` makes; the command, environment, working directory, hostname and
    // mounts are docker's to decide when the container starts (fromContainer)
    const plan: RunPlan = {
      ...buildPlan(
        { image: svc.image ?? name, command: argv, user: svc.user, network: svc.network_mode === 'none' ? 'none' : undefined, netBackend: input.passt ? 'passt' : 'slirp', readOnly: svc.read_only, ...processOptions(svc) },
        image,
        { runId: '', accel, hostEnv: {}, kernelModules: { staging: MODULES_STAGING, release: kernelRelease }, forwards: exposed.map(parseExposed), passtAvailable: input.passt !== undefined, snapshotsAvailable: own.snapshots !== undefined },
      ),
      fromContainer: true,
    };
    // what every VM's container has (vm-container.ts), as a compose service says it
    const vm = vmContainer(plan, { kvm, volumes: own, owner: { kind: 'compose' } });
    services[name] = {
      entrypoint: vm.entrypoint,
      command: argv,
      // container-init needs root for its mounts; the command runs as the service's user
      user: 'root',
      // read_only: is the VM's (the plan's readonlyRoot): the container's own root must stay writable for container-init
      ...(svc.read_only ? { read_only: false } : {}),
      // privileged: is the VM's command's (it holds every capability there); the container stays as testin makes it
      ...(svc.privileged ? { privileged: false } : {}),
      // pids_limit: is the VM's command's (a cgroup of the VM's); on the container it would hold QEMU's and virtiofsd's threads
      ...(svc.pids_limit !== undefined ? { pids_limit: -1 } : {}),
      // compose reads $ in a value as a variable: $$ is a $
      environment: { [PLAN_ENV]: encodePlan(plan).replace(/\$/g, '$$$$') },
      cap_add: vm.capAdd,
      security_opt: securityOptions(vm, input.passt?.seccompFile),
      ...(vm.devices.length ? { devices: vm.devices } : {}),
      tmpfs: [`${WORK_DIR}:exec,mode=755`],
      volumes: vm.mounts.map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
      // compose down passes its own timeout to docker stop: the same grace as a run's container
      stop_grace_period: `${vm.stopTimeoutS}s`,
      // stop_signal: is the command's (the plan's); container-init takes docker stop's SIGTERM and gives the command that
      stop_signal: vm.stopSignal,
      labels: vm.labels,
    };
  }
  return {
    ...(input.version ? { version: input.version } : {}),
    services,
    volumes,
  };
}

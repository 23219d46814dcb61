/**
 * Everything up to a created container, shared by run() and start(): options
 * checked, the engine reached, the image, the toolbox (found, or built on the
 * engine), a user's kernel, the plan, the mounts, and the plan put into the
 * container. Nothing here reads or binds a file of the client for the run
 * itself, so a remote engine works the same.
 */
import { parseShmSize, parseSysctl } from '../contract/process-settings.js';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { PassThrough, type Writable } from 'node:stream';
import type { RunLogger } from './logger.js';
import type { ContainerHandle, DockerClient } from '../contract/docker-client.js';
import { CanceledError, DockerRefusedError, DockerUnreachableError, UsageError } from '../contract/errors.js';
import { LABELS } from '../contract/labels.js';
import { ensureImage } from './image-pull.js';
import { KERNEL_STAGING, KERNEL_VOLUME, MODULES_STAGING, PLAN_FILE, TOOLBOX_LAYOUT, WORK_DIR } from '../contract/layout.js';
import { ensureSnapshotVolume } from '../toolbox/toolbox-volume.js';
import { RUN_PLAN_ENV, RUN_PLAN_ENV_MAX, encodePlan, type RunLeasePlan, type RunPlan } from '../contract/run-plan.js';
import { newResultMark } from './run-lease.js';
import type { ToolboxFacts } from '../contract/toolbox-manifest.js';
import { ensureToolbox, findToolbox, toolboxBase } from '../toolbox/ensure-toolbox.js';
import { tarOf } from '../toolbox/tar.js';
import { parseMounts, parseVolumesFrom, volumesFromSpecs, type MountSpec } from '../volumes/parse-mounts.js';
import { mapVolumes } from '../volumes/volume-mapping.js';
import { buildPlan, resolveLabels } from './build-plan.js';
import { dockerRefusal } from './docker-refusal.js';
import { createDockerClient } from './dockerode-client.js';
import { probeEngineKvm } from './engine-kvm.js';
import { decideAccel, describeTcgNotice, foreignAccel } from '../contract/accel.js';
import { ARCHES, describeForeignGuest, type Arch } from '../contract/arch.js';
import { chooseArch, chosenGuest } from './guest-arch.js';
import { planPorts } from './publish-ports.js';
import { reapStaleRuns } from './reap-stale-runs.js';
import type { RunOptions } from '../contract/run-options.js';
import { vmContainer } from './vm-container.js';
import { TEST_HOOK_ENV } from './test-hook.js';
import { cidfileExists, validateRunOptions } from './validate-options.js';
import { readFlagFile } from './read-flag-file.js';

export interface CreatedRun {
  container: ContainerHandle;
  plan: RunPlan;
  docker: DockerClient;
  toolbox: ToolboxFacts;
  /** for the run's report: the image's ID, the accelerator and why, the kernel booted */
  imageId: string;
  accelReason?: string | undefined;
  kernelRelease: string;
}

export interface CreateContext {
  docker?: DockerClient | undefined;
  /** notices and the toolbox build's progress */
  stderr: Writable;
  logger: RunLogger;
  phase?: (name: string) => void;
  /**
   * a session: its name, the size `testin ls` shows, and whether it outlives its
   * process (persistent: no owner labels, so no later run or start() reaps it)
   */
  session?: { name: string; cpus: string; memory: string; persistent: boolean };
  /** a detached run (-d): no lease (it outlives its client), no owner, listed by `testin ls` */
  detached?: boolean;
  /** aborted: stop building the toolbox, create nothing more */
  signal?: AbortSignal | undefined;
  /** called last before the container is created */
  beforeCreate?: () => Promise<void>;
}

export async function createRunContainer(options: RunOptions, ctx: CreateContext): Promise<CreatedRun> {
  const { stderr, logger } = ctx;
  const phase = ctx.phase ?? ((): void => undefined);
  validateRunOptions(options);
  const envFileTexts = (options.envFiles ?? []).map((path) => readFlagFile(path, '--env-file', 'NAME=VALUE'));
  const labels = resolveLabels(options.labels ?? [], (options.labelFiles ?? []).map((path) => readFlagFile(path, '--label-file', 'KEY=VALUE')));
  const ownMounts = parseMounts({ volumes: options.volumes, mounts: options.mounts, tmpfs: options.tmpfs }, process.cwd());
  const volumesFrom = (options.volumesFrom ?? []).map(parseVolumesFrom);
  const docker = ctx.docker ?? createDockerClient();
  // the toolbox of each guest architecture is looked up beside the ping and the image (a round
  // trip each, and the first ones are the slowest): the one this run needs says the architecture
  // of the engine's host, where it was built, which spares asking the engine's /info (20-40 ms on
  // Docker, 0.3-0.6 s on Podman here); without one, the engine is asked. An engine that does not
  // answer is said by the ping
  const base = toolboxBase(options.toolboxBase);
  const toolboxes = new Map((Object.keys(ARCHES) as Arch[]).map((guest) => [guest, findToolbox(docker, base, guest)] as const));
  for (const lookup of toolboxes.values()) lookup.catch(() => undefined);
  try {
    await docker.ping();
  } catch (error) {
    throw error instanceof DockerUnreachableError ? error : new DockerUnreachableError(error);
  }
  const reaped = reapStaleRuns(docker).catch(() => []);
  const volumes = mapVolumes([...ownMounts, ...(volumesFrom.length ? await mountsOfContainers(docker, volumesFrom, ownMounts) : [])]);
  const image = await ensureImage(docker, options.image, { pull: options.pull, platform: options.platform, out: options.quiet ? new PassThrough().resume() : stderr, tty: !options.quiet && (stderr as { isTTY?: boolean }).isTTY === true });
  phase('image');
  // the VM is of the image's architecture (or --platform's); its tools are of the engine's
  const wanted = chosenGuest({ name: options.image, architecture: image.architecture }, options.platform);
  const known = wanted ? await toolboxes.get(wanted) : undefined;
  const arch = chooseArch(known?.host ?? (await docker.engine()).architecture, { name: options.image, architecture: image.architecture }, options.platform);
  if (options.noVm && arch.guest !== arch.host) {
    throw new UsageError(`--no-vm runs the image's binaries in a container on the engine's host, which is ${arch.host}: the image is ${arch.guest}`, 'drop --no-vm (the VM runs them)');
  }

  const found = known?.guest === arch.guest ? known : undefined;
  const { facts: toolbox, built } = found ? { facts: found, built: false } : await ensureToolbox(docker, { base, guest: arch.guest, progress: stderr, signal: ctx.signal });
  phase('toolbox');
  logger.info({ volume: toolbox.volumeName, kernel: toolbox.kernelRelease, base: toolbox.baseImage }, `toolbox volume ${built ? 'built' : 'reused'}`);
  const custom = options.kernel ? await (await import('../toolbox/custom-kernel.js')).prepareCustomKernel(docker, toolbox, { kernel: options.kernel, initrd: options.initrd, modules: options.modules }) : undefined;
  const kernelModules = options.noVm
    ? undefined
    : custom
      ? custom.hasModules && custom.release
        ? { staging: `${KERNEL_STAGING}/${KERNEL_VOLUME.source}/${KERNEL_VOLUME.modules}`, release: custom.release }
        : undefined
      : { staging: MODULES_STAGING, release: toolbox.kernelRelease };
  // decided here, from what the engine's host has (not this client's), before anything is created
  const foreign = describeForeignGuest(arch);
  const accel = options.noVm
    ? { accel: 'tcg' as const }
    : foreign
      ? foreignAccel(options.accel ?? 'auto', foreign)
      : options.accel === 'tcg'
        ? decideAccel('tcg', { hardwareVirt: false, devKvm: '' })
        : decideAccel(options.accel ?? 'auto', (await probeEngineKvm(docker, toolbox)).facts);
  if (accel.reason && options.accel !== 'tcg') stderr.write(`${describeTcgNotice(accel.reason)}\n`);
  const ports = planPorts(options.publish ?? [], options.expose ?? [], Object.keys(image.config.ExposedPorts ?? {}), options.publishAll ?? false);
  const runId = randomBytes(8).toString('hex');
  const plan = buildPlan(options, image.config, {
    session: ctx.session !== undefined,
    runId,
    accel: accel.accel,
    hostEnv: process.env,
    envFileTexts,
    volumes,
    kernelModules,
    kernel: custom && { kernel: `${KERNEL_STAGING}/${KERNEL_VOLUME.kernel}`, initrd: `${KERNEL_STAGING}/${KERNEL_VOLUME.initrd}`, format: custom.format },
    forwards: ports.forwards,
    passtAvailable: toolbox.passt,
    snapshotsAvailable: toolbox.snapshots,
    // the client holds a lease on its run (a persistent session's only while it starts): a client that dies leaves
    // nothing; a detached run is left to the engine (docker stop, its --rm)
    lease: ctx.detached ? undefined : await leaseFor(docker, options, ctx),
  });
  phase('plan');
  const reapedIds = await reaped;
  if (reapedIds.length) logger.info({ containers: reapedIds }, 'removed containers of runs whose launcher died');
  await ctx.beforeCreate?.();
  if (ctx.signal?.aborted) throw new CanceledError('the run');

  const vm = vmContainer(plan, {
    kvm: accel.accel === 'kvm',
    volumes: {
      toolbox: toolbox.volumeName,
      kernel: custom?.volume,
      modules: kernelModules && !custom ? toolbox.modulesVolume : undefined,
      snapshots: plan.snapshot ? await ensureSnapshotVolume(docker, toolbox) : undefined,
    },
    owner: ctx.session
      ? { kind: 'session', ...ctx.session }
      : ctx.detached
        ? { kind: 'detached', runId, cpus: String(plan.vm.cpus), memory: `${plan.vm.memoryMiB}m`, accel: plan.noVm ? 'none' : accel.accel }
        : { kind: 'run', runId, kept: options.keep === true },
  });
  const encoded = encodePlan(plan);
  // the plan goes with the create when it can (run-plan.ts RUN_PLAN_ENV), else as a file after it
  const planInEnv = !plan.noVm && Buffer.byteLength(encoded) <= RUN_PLAN_ENV_MAX;
  let container: ContainerHandle;
  try {
    container = await docker.createContainer({
      image: options.image,
      name: options.name,
      entrypoint: vm.entrypoint,
      cmd: [],
      env: [
        ...(planInEnv ? [`${RUN_PLAN_ENV}=${encoded}`] : []),
        // container-init's own test hook (the `boot` moment), when the tests ask for one
        ...(process.env[TEST_HOOK_ENV] ? [`${TEST_HOOK_ENV}=${process.env[TEST_HOOK_ENV]}`] : []),
      ],
      // the user's first: testin's own keys are refused in theirs (resolveLabels)
      labels: { ...labels, ...vm.labels },
      mounts: [...vm.mounts, ...volumes.container],
      binds: volumes.binds,
      tmpfs: {},
      capAdd: vm.capAdd,
      // the engine removes the container once it ends, even when its client is gone (a remote engine); --rm=false keeps it
      autoRemove: options.keep !== true,
      // --device: in a VM the VM's own (the plan's); without one the engine's, as docker gives it
      devices: [...vm.devices, ...(options.noVm ? (options.devices ?? []).map((d) => d.split(':')[0] as string) : [])],
      securityOpt: [vm.security.apparmor],
      seccomp: vm.security.seccomp && { profile: vm.security.seccomp, file: { volume: toolbox.volumeName, path: TOOLBOX_LAYOUT.seccomp } },
      openStdin: options.interactive === true || typeof plan.lease === 'object',
      tty: options.tty ?? false,
      hostname: options.hostname,
      domainname: options.domainname,
      networkMode: options.network,
      links: options.links,
      endpoint: { aliases: options.networkAliases, ipv4: options.ip, ipv6: options.ip6 },
      exposedPorts: ports.exposedPorts,
      portBindings: ports.portBindings,
      extraHosts: options.addHost,
      stopTimeout: vm.stopTimeoutS,
      stopSignal: vm.stopSignal,
      dns: { servers: options.dns, search: options.dnsSearch, options: options.dnsOption },
      // --cpus 1.5: two vCPUs, and the container (QEMU, its helpers) held to 1.5 CPUs of time, as docker holds a container
      nanoCpus: options.cpus !== undefined && !Number.isInteger(options.cpus) ? Math.round(options.cpus * 1e9) : undefined,
      // without a VM the container is the machine: the engine applies them (in a VM the plan's machine settings do)
      ...(options.noVm ? noVmMachine(options) : {}),
    });
  } catch (error) {
    throw dockerRefusal(error, options) ?? error;
  }
  try {
    // else the plan travels as a file of the container's own layer: no size limit
    if (!planInEnv) await container.putArchive(tarOf([{ kind: 'dir', name: WORK_DIR.slice(1), mode: 0o755 }, { kind: 'data', name: PLAN_FILE.slice(1), data: encoded, mode: 0o600 }]), '/');
  } catch (error) {
    await container.remove().catch(() => undefined);
    throw dockerRefusal(error, options) ?? error;
  }
  if (options.cidfile !== undefined) await writeCidfile(options.cidfile, container);
  logger.debug({ container: container.id, runId, toolbox: toolbox.volumeName }, 'container created');
  return { container, plan, docker, toolbox, imageId: image.id, accelReason: accel.reason, kernelRelease: custom?.release ?? toolbox.kernelRelease };
}

/**
 * How the client holds its lease (RunPlan.lease): on the container's stdin where the engine closes it
 * when the client goes (Docker, not Podman) and that stdin is not the user's (-i) nor a terminal (-t):
 * a docker exec beside the run costs 75-240 ms of CPU while QEMU starts, on this machine's 2 cores;
 * else by that exec. A session always by the exec: it outlives its start (`persist`).
 */
async function leaseFor(docker: DockerClient, options: RunOptions, ctx: CreateContext): Promise<RunLeasePlan> {
  // a kept container's (--rm=false) logs stay the command's: no result line on its stderr
  if (ctx.session || options.interactive || options.tty || options.keep || !(await docker.closesStdinWhenClientGoes())) return 'exec';
  return { stdinMark: newResultMark() };
}

/** --sysctl, --shm-size and --pids-limit of a run without a VM, for the engine to apply to the container */
function noVmMachine(options: RunOptions): { sysctls?: Record<string, string>; shmSizeBytes?: number; pidsLimit?: number } {
  const sysctls = (options.sysctls ?? []).map(parseSysctl);
  return {
    ...(sysctls.length ? { sysctls: Object.fromEntries(sysctls) } : {}),
    ...(options.shmSize === undefined ? {} : { shmSizeBytes: parseShmSize(options.shmSize) }),
    ...(options.pidsLimit === undefined ? {} : { pidsLimit: options.pidsLimit }),
  };
}

/** --cidfile: the ID once the container exists, in a file that must still not exist (else the container goes: nothing is left) */
async function writeCidfile(path: string, container: ContainerHandle): Promise<void> {
  try {
    writeFileSync(path, container.id, { flag: 'wx' });
  } catch (error) {
    await container.remove().catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw cidfileExists(path);
    throw new UsageError(`cannot write --cidfile ${path}: ${code ?? String(error)}`, 'name a file in a folder that exists and this user may write');
  }
}

/** --volumes-from: each container's binds and volumes, at their paths; a path of this run's own mounts stays this run's */
async function mountsOfContainers(docker: DockerClient, froms: readonly ReturnType<typeof parseVolumesFrom>[], own: readonly MountSpec[]): Promise<MountSpec[]> {
  const taken = new Set(own.map((spec) => spec.target));
  const specs: MountSpec[] = [];
  for (const { container, mode } of froms) {
    let info: Awaited<ReturnType<ContainerHandle['inspect']>>;
    try {
      info = await docker.getContainer(container).inspect();
    } catch (error) {
      if (error instanceof DockerRefusedError && error.engine?.statusCode === 404) {
        throw new UsageError(`--volumes-from ${container}: no such container`, 'name one of docker ps -a (a stopped container lends its volumes too)');
      }
      throw error;
    }
    if (info.labels[LABELS.run] !== undefined) {
      throw new UsageError(`--volumes-from ${container}: a testin VM's container, whose mounts are staged for its VM`, 'name the volumes themselves with -v NAME:/path (docker inspect shows them)');
    }
    for (const spec of volumesFromSpecs(info.mounts, mode, taken)) {
      taken.add(spec.target);
      specs.push(spec);
    }
  }
  return specs;
}
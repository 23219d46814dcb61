/**
 * `testin doctor`: what a run on this engine would meet, checked in order,
 * each with a verdict, what was seen and a one-line fix. The engine's host is
 * looked at from one helper container (the client may be far from it).
 */
import type { DockerClient, EngineIdentity, EngineInfo } from '../contract/docker-client.js';
import { decideAccel } from '../contract/accel.js';
import { ARCHES, archOf, engineArch, platformOf, type Arch, type ArchFacts, type ToolboxArch } from '../contract/arch.js';
import { chooseArch, platformArch } from './guest-arch.js';
import { snapshotVolumeName, TOOLBOX_LAYOUT } from '../contract/layout.js';
import type { ToolboxFacts } from '../contract/toolbox-manifest.js';
import { TestinError } from '../contract/errors.js';
import { kvmFacts, probeHost, type HostProbe } from './host-probe.js';
import { RUNTIME_SCRIPT, type RuntimeInstall } from '../contract/runtime-install.js';

export type Verdict = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  verdict: Verdict;
  seen: string;
  fix?: string | undefined;
}

const GiB = 1024 * 1024;

/** what testin does differently on an engine, by product (the engine client handles each; doctor names them) */
export function engineQuirks(engine: Pick<EngineIdentity, 'product'>): string[] {
  if (engine.product !== 'podman') return [];
  return [
    "the seccomp profile of a passt run is given by path (the toolbox volume's share/testin/seccomp.json): Podman reads SecurityOpt seccomp= as a file",
    "testin's own names are qualified (localhost/testin-helper:1): Podman would qualify a short name with docker.io/library/",
    'a toolbox archive is unpacked by testin before it goes to the engine: Podman takes no gzip archive',
    "testin compose gives the services' VMs slirp, not passt: compose passes the seccomp profile passt needs inline, which Podman refuses",
  ];
}

/** the engine check: which engine, where, its version and API, cgroups and confinement; what testin does differently there */
export function engineCheck(info: EngineInfo, engine: EngineIdentity): Check[] {
  const sec = info.securityOptions.map((s) => /name=(\w+)/.exec(s)?.[1] ?? s);
  const product = engine.product === 'podman' ? 'Podman' : 'Docker';
  const checks: Check[] = [
    {
      name: 'engine',
      verdict: 'ok',
      seen: `${product} ${engine.version} (API ${engine.apiVersion}${engine.engineApiVersion === engine.apiVersion ? '' : `, the engine's newest ${engine.engineApiVersion}`}) ${engine.remote ? `remote at ${engine.endpoint}` : 'local'}${engine.rootless ? ', rootless' : ''}, ${info.operatingSystem}, kernel ${info.kernelVersion}, ${info.architecture}, ${info.ncpu} CPUs, ${Math.round(info.memTotal / 1024 ** 3)} GiB, cgroup v${info.cgroupVersion}, security: ${sec.join(', ') || 'none'}`,
    },
  ];
  const quirks = engineQuirks(engine);
  if (quirks.length) checks.push({ name: 'engine mode', verdict: 'ok', seen: `on ${product}: ${quirks.join('; ')}` });
  if (engine.rootless || sec.includes('rootless')) {
    checks.push({
      name: 'engine mode',
      verdict: 'ok',
      seen: "rootless: testin's containers run in the engine's user namespace; passt runs as the container's root there (an unprivileged user of the host), as nobody may not search the image's root; /dev/kvm is used only if your user may open it (the kvm group); the container check below shows whether the mounts a run needs are allowed",
    });
  }
  if (sec.includes('userns')) checks.push({ name: 'engine mode', verdict: 'warn', seen: "userns-remap is on: a container's root is not the host's", fix: "if runs fail, start testin's containers with --userns=host (or turn userns-remap off)" });
  return checks;
}

/** the checks after the engine's, from what the helper saw and the toolbox found */
export function hostChecks(input: {
  toolbox?: ToolboxFacts | undefined;
  base: string;
  probe?: HostProbe | undefined;
  /** why the look's container did not run, and what to do, as the engine's refusal says */
  probeError?: { seen: string; fix?: string | undefined } | undefined;
  /** a container was started to look (with the toolbox, or from its base image) */
  looked?: boolean;
  snapshots?: { volume: boolean } | undefined;
}): Check[] {
  const { toolbox, probe } = input;
  const checks: Check[] = [];
  if (!toolbox) {
    checks.push({ name: 'toolbox', verdict: 'warn', seen: `not built yet for ${input.base}: the first run builds it on the engine (20-30 s and Debian's package mirror)`, fix: 'testin toolbox build (or testin toolbox load FILE on an engine without network)' });
  } else {
    checks.push({
      name: 'toolbox',
      verdict: 'ok',
      seen: `${toolbox.volumeName} from ${toolbox.baseImage}, kernel ${toolbox.kernelRelease}${probe?.qemu ? `, ${probe.qemu}` : ''}${probe?.virtiofsd ? `, virtiofsd ${probe.virtiofsd}` : ''}${probe?.toolboxKiB ? `, ${(probe.toolboxKiB / 1024).toFixed(0)} MiB` : ''}`,
    });
    checks.push(toolbox.passt ? { name: 'passt', verdict: 'ok', seen: 'in the toolbox: the VM network goes through passt' } : { name: 'passt', verdict: 'warn', seen: `${toolbox.baseImage} has no passt: the VM network is QEMU's slirp (slower)`, fix: 'build the toolbox from debian:trixie-slim (the default)' });
  }
  if (!probe) {
    if (input.looked || toolbox) {
      checks.push({
        name: 'container',
        verdict: 'fail',
        seen: `a container with CAP_SYS_ADMIN did not run: ${input.probeError?.seen ?? 'no output'}`,
        fix: input.probeError?.fix ?? 'check that the engine lets containers add CAP_SYS_ADMIN and run with apparmor=unconfined',
      });
    } else checks.push({ name: 'kvm', verdict: 'warn', seen: `not looked at: neither the toolbox nor its base image ${input.base} is on the engine`, fix: 'testin toolbox build, then testin doctor again' });
    return checks;
  }
  checks.push(probe.mount ? { name: 'container', verdict: 'ok', seen: 'a container with CAP_SYS_ADMIN started and mounted a tmpfs' } : { name: 'container', verdict: 'fail', seen: 'a container with CAP_SYS_ADMIN and apparmor=unconfined could not mount', fix: 'allow CAP_SYS_ADMIN and unconfined AppArmor for containers on this engine (rootless engines may not)' });

  // paravirtual: the kvm module is kvm_pvm and the CPU has no vmx/svm of its own
  const pvm = probe.kvmModules.includes('kvm_pvm') && !probe.cpuVirt;
  const facts = kvmFacts(probe);
  const device = probe.device === 'none' ? 'no /dev/kvm' : `/dev/kvm ${probe.deviceMode ?? ''} gid ${probe.deviceGid ?? '?'}, ${probe.deviceRw ? 'opens read-write' : 'does not open read-write'}`;
  const cpu = probe.cpuVirt ? `CPU has ${probe.cpuVirt}` : pvm ? 'CPU has no vmx/svm; the kvm module is kvm_pvm (paravirtual)' : 'CPU shows no vmx/svm';
  const accel = decideAccel('auto', facts);
  if (accel.accel === 'kvm') checks.push({ name: 'kvm', verdict: 'ok', seen: `${cpu}; ${device}; nested virtualization in the guest: ${probe.nested === 'Y' || probe.nested === '1' ? 'available' : 'not available'}` });
  else {
    const fix = pvm
      ? 'a paravirtual /dev/kvm (kvm_pvm) cannot boot a stock kernel: run on a host with vmx/svm (or nested virtualization) for KVM speed'
      : probe.device === 'present' && !probe.deviceRw
        ? 'open /dev/kvm to containers: chmod 666 /dev/kvm, or a udev rule giving it to the kvm group (as GitHub\'s runners need)'
        : 'enable virtualization (VT-x/AMD-V) in the firmware, or nested virtualization in the VM the engine runs in; load kvm_intel or kvm_amd';
    checks.push({ name: 'kvm', verdict: 'warn', seen: `${cpu}; ${device}: runs use TCG (software emulation, several times slower)`, fix });
  }
  checks.push({ name: 'accelerator', verdict: accel.accel === 'kvm' ? 'ok' : 'warn', seen: accel.accel === 'kvm' ? 'a run would use KVM' : `a run would use TCG: ${accel.reason ?? ''}` });
  checks.push({
    name: 'network',
    verdict: 'ok',
    seen: !toolbox ? 'a run would use passt once the toolbox is built (Debian 12 and 13 have it)' : toolbox.passt ? "a run would carry the VM's packets through passt (the toolbox has it)" : 'a run would use slirp (the toolbox has no passt)',
  });
  if (probe.freeKiB !== undefined) {
    const free = `${(probe.freeKiB / GiB).toFixed(1)} GiB free where the engine keeps volumes`;
    checks.push(
      probe.freeKiB < 0.3 * GiB
        ? { name: 'space', verdict: 'fail', seen: free, fix: 'free space on the engine (docker system prune), or move its data-root' }
        : probe.freeKiB < 2 * GiB
          ? { name: 'space', verdict: 'warn', seen: `${free}: a toolbox takes ~0.4 GiB, each VM snapshot ~0.1 GiB`, fix: 'free space on the engine (docker system prune)' }
          : { name: 'space', verdict: 'ok', seen: free },
    );
  }
  if (input.snapshots) checks.push({ name: 'snapshots', verdict: 'ok', seen: input.snapshots.volume ? 'the snapshots volume is there: runs restore booted VMs' : 'no snapshot yet: the first run of each VM shape boots and saves one' });
  return checks;
}

export function doctorExitCode(checks: readonly Check[]): number {
  return checks.some((c) => c.verdict === 'fail') ? 1 : 0;
}

export function formatChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${c.verdict.padEnd(4)}  ${c.name.padEnd(width)}  ${c.seen}${c.fix ? `\n${' '.repeat(width + 8)}fix: ${c.fix}` : ''}`).join('\n');
}

/** testin-runtime on this host: installed where, with which toolbox, and named by the engine or not; nothing when it is neither installed nor named */
export function runtimeCheck(input: { dir: string; install: RuntimeInstall | undefined; toolboxGone: boolean; currentToolbox: string | undefined; engineRuntimes: Readonly<Record<string, string>> }): Check[] {
  const script = `${input.dir}/${RUNTIME_SCRIPT}`;
  const names = Object.entries(input.engineRuntimes).filter(([, path]) => path === script).map(([name]) => name);
  if (!input.install) {
    return names.length ? [{ name: 'runtime', verdict: 'fail', seen: `the engine names ${script} (runtime "${names[0]}"), which is not installed`, fix: 'testin runtime install' }] : [];
  }
  const reinstall = 'testin runtime install (then containers of the runtime use this testin\'s toolbox)';
  if (input.toolboxGone) return [{ name: 'runtime', verdict: 'fail', seen: `testin-runtime in ${input.dir}: its toolbox is gone from ${input.install.toolbox}: every docker run --runtime fails`, fix: reinstall }];
  if (!names.length) return [{ name: 'runtime', verdict: 'warn', seen: `testin-runtime is installed in ${input.dir}, but the engine names no runtime there`, fix: 'testin runtime configure, then reload dockerd (kill -HUP its process)' }];
  const other = input.currentToolbox !== undefined && input.currentToolbox !== input.install.toolboxHash;
  const seen = `testin-runtime (${input.dir}) is the engine's runtime "${names[0]}": docker run --runtime ${names[0]} runs the command in a VM`;
  return [other ? { name: 'runtime', verdict: 'warn', seen: `${seen}, with another build's toolbox (${input.install.toolboxHash.slice(0, 16)})`, fix: reinstall } : { name: 'runtime', verdict: 'ok', seen }];
}

/** testin-runtime as this host has it (the engine's runtimes say whether it is named) */
async function localRuntimeCheck(info: EngineInfo, toolbox: ToolboxFacts | undefined, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const [{ existsSync }, { join }, { readRuntimeInstall, runtimeDir }] = await Promise.all([import('node:fs'), import('node:path'), import('../contract/runtime-install.js')]);
  const dir = runtimeDir(env);
  let install: RuntimeInstall | undefined;
  try {
    install = readRuntimeInstall(dir);
  } catch {
    install = undefined;
  }
  return runtimeCheck({ dir, install, toolboxGone: install !== undefined && !existsSync(join(install.toolbox, TOOLBOX_LAYOUT.complete)), currentToolbox: toolbox?.hash, engineRuntimes: info.runtimes });
}

/**
 * The architectures: the engine's host's (testin's tools in the container), and, for an image
 * (doctor --image, --platform), the VM's: its own when KVM can run it, emulated by QEMU when not.
 */
export function architectureCheck(input: { engine: string; image?: { name: string; architecture?: string | undefined } | undefined; platform?: string | undefined; toolboxes: readonly Arch[] }): Check {
  let arch: ToolboxArch;
  try {
    arch = input.image ? chooseArch(input.engine, input.image, input.platform) : { host: engineArch(input.engine), guest: platformArch(input.platform) ?? engineArch(input.engine) };
  } catch (error) {
    if (!(error instanceof TestinError)) throw error;
    return { name: 'architecture', verdict: 'fail', seen: error.message, fix: error.fix };
  }
  const host = ARCHES[arch.host];
  const guest = ARCHES[arch.guest];
  const other = Object.values(ARCHES).find((a) => a.name !== arch.host) as ArchFacts;
  const built = input.toolboxes.includes(arch.guest) ? '' : `; its toolbox is built at the first run (or: testin toolbox build --platform ${platformOf(arch.guest)})`;
  const engine = `the engine's host is ${host.machine} (${platformOf(arch.host)} images)`;
  if (!input.image && !input.platform) {
    return { name: 'architecture', verdict: 'ok', seen: `${engine}: their VMs are ${host.machine} (KVM where usable); ${platformOf(other.name)} images run in ${other.machine} VMs under TCG (QEMU emulates them)${built}` };
  }
  const what = input.image ? `the image ${input.image.name} is ${platformOf(arch.guest)}` : `--platform ${platformOf(arch.guest)}`;
  const how = arch.guest === arch.host ? 'KVM where usable' : "under TCG: QEMU emulates it, KVM runs only its host's own architecture";
  return { name: 'architecture', verdict: 'ok', seen: `${engine}; ${what}: its VM is ${guest.machine} (${how})${built}` };
}

/** Runs every check against the engine. */
export async function runDoctor(docker: DockerClient, options: { base: string; image?: string | undefined; platform?: string | undefined; env?: NodeJS.ProcessEnv }): Promise<Check[]> {
  const env = options.env ?? process.env;
  let info: EngineInfo;
  try {
    await docker.ping();
    info = await docker.engineInfo();
  } catch (error) {
    const where = env.DOCKER_HOST ? `DOCKER_HOST=${env.DOCKER_HOST}` : 'the local socket /var/run/docker.sock';
    return [{ name: 'engine', verdict: 'fail', seen: `no Docker engine answers at ${where}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, fix: 'start dockerd (or the Docker service), or point DOCKER_HOST at a running engine' }];
  }
  const engine = await docker.engine();
  const checks = engineCheck(info, engine);
  const { findToolbox } = await import('../toolbox/ensure-toolbox.js');
  // each guest architecture's toolbox, looked up once; the engine's own is the one the other checks are about
  const found = await Promise.all(Object.values(ARCHES).map(async (a) => ({ guest: a.name, facts: await findToolbox(docker, options.base, a.name) })));
  const toolboxes = found.filter((f) => f.facts).map((f) => f.guest);
  const own = archOf(engine.architecture);
  const toolbox = found.find((f) => f.guest === own)?.facts;
  const image = options.image ? await docker.inspectImage(options.image) : undefined;
  if (options.image && !image) checks.push({ name: 'architecture', verdict: 'fail', seen: `the image ${options.image} is not on the engine`, fix: `docker pull ${options.image} (or build it), then testin doctor --image again` });
  else checks.push(architectureCheck({ engine: engine.architecture, image: image && { name: options.image as string, architecture: image.architecture }, platform: options.platform, toolboxes }));
  let probe: HostProbe | undefined;
  let probeError: { seen: string; fix?: string | undefined } | undefined;
  // a container is started even before the toolbox exists (from its Debian base, when the engine has it):
  // whatever the engine refuses a run's container (rlimits, its network, mounts) shows here first
  const from = toolbox ? { toolboxVolume: toolbox.volumeName } : (await docker.inspectImage(options.base)) ? { baseImage: options.base } : undefined;
  if (from) {
    try {
      probe = await probeHost(docker, from, 'doctor');
      if (!probe) probeError = { seen: 'the look printed nothing' };
    } catch (error) {
      probeError = { seen: (error as Error).message, fix: error instanceof TestinError ? error.fix : undefined };
    }
  }
  const snapshots = toolbox ? { volume: (await docker.inspectVolume(snapshotVolumeName(toolbox.hash))) !== undefined } : undefined;
  return inOrder([...checks, ...hostChecks({ toolbox, base: options.base, probe, probeError, looked: from !== undefined, snapshots }), ...(await localRuntimeCheck(info, toolbox, env))]);
}

const ORDER = ['engine', 'engine mode', 'architecture', 'container', 'kvm', 'toolbox', 'passt', 'space', 'snapshots', 'accelerator', 'network', 'runtime'];

/** the checks in the order a reader follows them: the engine, what containers may do, KVM, the toolbox, what a run would pick */
export function inOrder(checks: readonly Check[]): Check[] {
  return [...checks].sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name));
}

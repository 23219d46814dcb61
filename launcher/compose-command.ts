import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { DockerClient, ImageConfig, ImageInfo } from '../contract/docker-client.js';
import { engineArch, describeForeignGuest, type Arch } from '../contract/arch.js';
import { HostPackageMissingError, UsageError } from '../contract/errors.js';
import { ensureToolbox, toolboxBase } from '../toolbox/ensure-toolbox.js';
import { ensureSnapshotVolume, installToolboxVolumes } from '../toolbox/toolbox-volume.js';
import { buildComposeOverride, type ComposeService, type ServiceVm } from './compose-override.js';
import { probeEngineKvm, type EngineKvm } from './engine-kvm.js';
import { chooseArch } from './guest-arch.js';
import { seccompProfile } from '../contract/seccomp-profile.js';
import { decideAccel, foreignAccel } from '../contract/accel.js';

export interface ComposeOptions {
  files: readonly string[];
  services: readonly string[];
  /** where to write the override; @default compose.testin.yml next to the first file */
  output?: string | undefined;
  /** the Debian image the toolbox is built from; @default TESTIN_TOOLBOX_BASE, else debian:trixie-slim */
  toolboxBase?: string | undefined;
}

/** `docker-compose` (1.x, Debian's) or `docker compose` (v2), whichever is here. */
async function composeCommand(): Promise<string[]> {
  if ((await execa('docker-compose', ['version'], { reject: false })).exitCode === 0) return ['docker-compose'];
  if ((await execa('docker', ['compose', 'version'], { reject: false })).exitCode === 0) return ['docker', 'compose'];
  throw new HostPackageMissingError('docker-compose', ['docker-compose']);
}

/** Installs the toolbox volumes and writes the override file; returns its path. */
export async function writeComposeOverride(docker: DockerClient, options: ComposeOptions): Promise<string> {
  if (options.services.length === 0) throw new UsageError('no service chosen', 'name the services to run in a VM: testin compose --service test');
  const files = options.files.length ? options.files : ['docker-compose.yml'];
  const [cmd, ...pre] = await composeCommand();
  const config = await execa(cmd as string, [...pre, ...files.flatMap((f) => ['-f', f]), 'config'], { reject: false });
  if (config.exitCode !== 0) throw new UsageError(`compose cannot read ${files.join(', ')}: ${config.stderr.split('\n')[0] ?? ''}`, 'check the file with docker-compose config');
  const normalized = parse(config.stdout) as { services?: Record<string, ComposeService> };
  const services = normalized.services ?? {};
  const project = basename(dirname(resolve(files[0] as string))).toLowerCase().replace(/[^a-z0-9_-]/g, '');

  const images: Record<string, ImageConfig> = {};
  const engineArchitecture = (await docker.engine()).architecture;
  const guests: Record<string, Arch> = {};
  for (const name of options.services) {
    const svc = services[name];
    if (!svc) continue; // buildComposeOverride names the services there are
    const candidates = svc.image ? [svc.image] : [`${project}_${name}`, `${project}-${name}`];
    let found: ImageInfo | undefined;
    for (const image of candidates) found ??= await docker.inspectImage(image);
    if (!found) throw new UsageError(`the image of service "${name}" (${candidates.join(' or ')}) is not built or pulled`, `run docker-compose build ${name} (or pull) first`);
    images[name] = found.config;
    // the service's VM is of its image's architecture (or its platform:'s), as a run's is
    guests[name] = chooseArch(engineArchitecture, { name: svc.image ?? (candidates[0] as string), architecture: found.architecture }, svc.platform).guest;
  }

  // a toolbox for each guest architecture among the services, built when missing
  const vms = new Map<Arch, ServiceVm & { passt: boolean }>();
  for (const guest of new Set(Object.values(guests))) {
    const { facts: toolbox } = await ensureToolbox(docker, { base: toolboxBase(options.toolboxBase), guest, progress: process.stderr });
    const volumes = { ...(await installToolboxVolumes(docker, toolbox)), snapshots: toolbox.snapshots ? await ensureSnapshotVolume(docker, toolbox) : undefined };
    const foreign = describeForeignGuest({ host: engineArch(engineArchitecture), guest });
    // the device, when the engine's host has one and the guest is of its architecture; container-init decides whether KVM is used
    const engine = foreign ? undefined : await probeEngineKvm(docker, toolbox);
    const accel = foreign ? foreignAccel('auto', foreign).accel : decideAccel('auto', (engine as EngineKvm).facts).accel;
    vms.set(guest, { volumes: { toolbox: volumes.toolbox, modules: volumes.modules, snapshots: volumes.snapshots }, kvm: engine?.device === true && accel === 'kvm', accel, kernelRelease: toolbox.kernelRelease, passt: toolbox.passt });
  }
  const version = (parse(readFileSync(files[0] as string, 'utf8')) as { version?: string } | null)?.version;
  const output = resolve(options.output ?? resolve(dirname(resolve(files[0] as string)), 'compose.testin.yml'));
  // compose reads a seccomp profile from a file: it goes next to the override
  const profile = output.replace(/(\.ya?ml)?$/, '.seccomp.json');
  // compose gives the engine a seccomp profile inline (it reads the file), which an engine that takes a path there
  // (Podman) refuses: there the services' VMs use slirp, which needs no profile (doctor says so)
  const passt = [...vms.values()].every((vm) => vm.passt) && (await docker.engine()).seccompInline ? { seccompFile: profile } : undefined;
  const vmOf = (name: string): ServiceVm => vms.get(guests[name] as Arch) as ServiceVm;
  const override = buildComposeOverride({ services, chosen: options.services, images, vmOf, passt, version: version === undefined ? undefined : String(version) });
  if (passt) writeFileSync(profile, `${JSON.stringify(seccompProfile(), null, 2)}\n`);
  writeFileSync(output, `# made by \`testin compose\`: runs ${options.services.join(', ')} in a VM\n${stringify(override)}`);
  return output;
}

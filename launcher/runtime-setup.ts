/**
 * `testin runtime install` and `testin runtime configure` (nvidia-ctk's habit):
 * put on this host what testin-runtime reads (its bundle, a script the engine
 * runs, where the toolbox's tree, modules and snapshots are, which runc), and
 * name it in the engine's configuration. The toolbox is the engine's own
 * (its volumes' folders on this host), or one a `testin toolbox save` file
 * carries (unpacked into the runtime's folder, with no engine asked); nothing
 * else is put anywhere.
 */
import { accessSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { DockerClient } from '../contract/docker-client.js';
import { RuntimeSetupError, TestinError } from '../contract/errors.js';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import type { ToolboxFacts } from '../contract/toolbox-manifest.js';
import { RUNTIME_CONFIG_FILE, RUNTIME_SCRIPT, type GuestToolbox, type RuntimeInstall } from '../contract/runtime-install.js';
import { archOf } from '../contract/arch.js';
import { packageRoot } from '../toolbox/own-files.js';
import { readArchiveFacts, unpackToolbox } from '../toolbox/toolbox-archive.js';
import { ensureSnapshotVolume } from '../toolbox/toolbox-volume.js';

/** the runtime's bundle in the package (toolbox/bundle.ts makes it) and in the runtime's folder */
export const RUNTIME_BUNDLE = 'testin-runtime.mjs';
export const DOCKER_DAEMON_JSON = '/etc/docker/daemon.json';
export const CONTAINERD_DROP_IN = '/etc/containerd/conf.d/testin.toml';

/** runc on PATH (and where distributions put it), as this host's root would find it */
export function findRunc(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].filter(Boolean);
  for (const dir of dirs) {
    const path = join(dir, 'runc');
    try {
      accessSync(path, fsConstants.X_OK);
      return path;
    } catch {
      // the next folder
    }
  }
  return undefined;
}

/**
 * The script the engine runs. create, run and exec go to the runtime's bundle, on the toolbox's
 * own node through the toolbox's loader (no node of this host needed); every other command (start,
 * state, kill, delete: most of a container's life) goes straight to runc, without starting node.
 */
export function runtimeScript(dir: string, toolbox: string, runc: string): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# testin-runtime: written by testin runtime install; an OCI runtime that runs containers' commands in VMs
cmd=; skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$a" in
    --log|--log-format|--root|--criu|--rootless) skip=1 ;;
    -*) ;;
    *) cmd=$a; break ;;
  esac
done
case "$cmd" in
  create|run|exec)
    TESTIN_RUNTIME_DIR=${q(dir)} exec ${q(join(toolbox, TOOLBOX_LAYOUT.loader))} --library-path ${q(join(toolbox, TOOLBOX_LAYOUT.lib))} ${q(join(toolbox, TOOLBOX_LAYOUT.node))} ${q(join(dir, RUNTIME_BUNDLE))} "$@" ;;
  *) exec ${q(runc)} "$@" ;;
esac
`;
}

/** where a volume's files are on this host; refused when the engine is not on this host */
async function volumeFolder(docker: DockerClient, name: string): Promise<string> {
  const info = await docker.inspectVolume(name);
  const path = info?.mountpoint;
  if (!path || !existsSync(path)) {
    throw new RuntimeSetupError(
      `the volume ${name} is not on this host${path ? ` (the engine keeps it at ${path})` : ''}: testin-runtime runs beside the engine`,
      'run testin runtime install on the engine\'s own host, as root',
    );
  }
  return path;
}

export interface InstallResult {
  dir: string;
  script: string;
  install: RuntimeInstall;
}

/** the host folders a runtime's containers get bound in */
interface ToolboxFolders {
  toolbox: string;
  modules: string;
  snapshots: string | undefined;
}

/** where a toolbox of the engine's is on this host: its volumes' folders */
async function engineFolders(docker: DockerClient, facts: ToolboxFacts): Promise<ToolboxFolders> {
  return {
    toolbox: await volumeFolder(docker, facts.volumeName),
    modules: await volumeFolder(docker, facts.modulesVolume),
    snapshots: facts.snapshots ? await volumeFolder(docker, await ensureSnapshotVolume(docker, facts)) : undefined,
  };
}

/**
 * Installs the runtime with the engine's own toolbox (FACTS: its volumes' folders on this host), and
 * the toolboxes of OTHERS for containers whose binaries are of their guests' architecture.
 */
export async function installRuntime(docker: DockerClient, facts: ToolboxFacts, dir: string, others: readonly ToolboxFacts[] = [], env: NodeJS.ProcessEnv = process.env): Promise<InstallResult> {
  const guests = await Promise.all(others.map(async (other) => ({ facts: other, folders: await engineFolders(docker, other) })));
  return writeRuntime({ facts, folders: await engineFolders(docker, facts) }, guests, dir, env);
}

/** A saved toolbox unpacked into the runtime's folder (DIR/toolboxes/HASH), whole or absent. */
async function unpackInto(file: string, dir: string): Promise<InstalledToolbox> {
  const facts = await readArchiveFacts(file);
  const root = join(dir, 'toolboxes', facts.hash.slice(0, 16));
  try {
    await unpackToolbox(file, root);
    if (facts.snapshots) mkdirSync(join(root, 'snapshots'), { recursive: true });
  } catch (error) {
    if (error instanceof TestinError) throw error;
    throw new RuntimeSetupError(`cannot unpack ${file} into ${root}: ${(error as Error).message}`, 'run it as root, or name a folder you can write with --dir', error);
  }
  return { facts, folders: { toolbox: join(root, 'toolbox'), modules: join(root, 'modules'), snapshots: facts.snapshots ? join(root, 'snapshots') : undefined } };
}

/**
 * Installs the runtime with the toolboxes of `testin toolbox save` files, unpacked into the
 * runtime's folder: no engine is asked, so a host with containerd and no docker (a Kubernetes
 * node) gets it too. The file whose VMs are of this host's architecture runs the runtime; the
 * others serve containers of their guests' architecture.
 */
export async function installRuntimeFrom(files: readonly string[], dir: string, env: NodeJS.ProcessEnv = process.env): Promise<InstallResult> {
  const unpacked: InstalledToolbox[] = [];
  for (const file of files) unpacked.push(await unpackInto(file, dir));
  const host = archOf(process.arch);
  const own = unpacked.find((u) => u.facts.guest === host) ?? unpacked[0];
  if (!own) throw new RuntimeSetupError('no toolbox file named', 'name a `testin toolbox save` file with --from');
  return writeRuntime(own, unpacked.filter((u) => u !== own), dir, env);
}

interface InstalledToolbox {
  facts: ToolboxFacts;
  folders: ToolboxFolders;
}

const guestOf = ({ facts, folders }: InstalledToolbox): GuestToolbox => ({ ...folders, toolboxHash: facts.hash, kernelRelease: facts.kernelRelease, passt: facts.passt });

/** Writes the runtime's folder: its bundle, its facts, the script the engine runs. Each file is replaced whole. */
function writeRuntime(own: InstalledToolbox, others: readonly InstalledToolbox[], dir: string, env: NodeJS.ProcessEnv): InstallResult {
  const runc = env.TESTIN_RUNC || findRunc(env);
  if (!runc) throw new RuntimeSetupError('runc is not on this host: testin-runtime hands every container to it', 'install runc (Debian: apt-get install runc), or name it with TESTIN_RUNC');
  const bundle = join(packageRoot(), 'dist', RUNTIME_BUNDLE);
  if (!existsSync(bundle)) throw new RuntimeSetupError(`${bundle} is missing`, 'build testin first (npm run build)');
  const guests = Object.fromEntries(others.filter((o) => o.facts.guest !== own.facts.guest).map((o) => [o.facts.guest, guestOf(o)]));
  const install: RuntimeInstall = { version: 1, ...guestOf(own), guest: own.facts.guest, ...(Object.keys(guests).length ? { guests } : {}), runc };
  const folders = own.folders;
  try {
    mkdirSync(dir, { recursive: true });
    const write = (name: string, text: string | Buffer, mode: number): void => {
      const tmp = join(dir, `.${name}.${process.pid}`);
      writeFileSync(tmp, text, { mode });
      renameSync(tmp, join(dir, name));
    };
    write(RUNTIME_BUNDLE, readFileSync(bundle), 0o755);
    write(RUNTIME_CONFIG_FILE, `${JSON.stringify(install, null, 2)}\n`, 0o644);
    write(RUNTIME_SCRIPT, runtimeScript(dir, folders.toolbox, runc), 0o755);
  } catch (error) {
    throw new RuntimeSetupError(`cannot write ${dir}: ${(error as Error).message}`, 'run it as root, or name a folder you can write with --dir', error);
  }
  return { dir, script: join(dir, RUNTIME_SCRIPT), install };
}

/** docker's daemon.json with the runtime added (other runtimes and keys kept) */
export function withDockerRuntime(daemonJson: string | undefined, name: string, script: string): { text: string; changed: boolean } {
  let config: Record<string, unknown>;
  try {
    config = daemonJson?.trim() ? (JSON.parse(daemonJson) as Record<string, unknown>) : {};
  } catch (error) {
    throw new RuntimeSetupError(`the engine's daemon.json is not JSON: ${(error as Error).message}`, 'fix the file, then run testin runtime configure again');
  }
  const runtimes = (config.runtimes ?? {}) as Record<string, { path?: string }>;
  if (runtimes[name]?.path === script) return { text: daemonJson ?? '', changed: false };
  const next = { ...config, runtimes: { ...runtimes, [name]: { path: script } } };
  return { text: `${JSON.stringify(next, null, 2)}\n`, changed: true };
}

/** a containerd drop-in: the runc shim with testin-runtime as its binary (what a Kubernetes RuntimeClass names by its handler) */
export function containerdDropIn(name: string, script: string): string {
  const table = `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${name}`;
  return `# written by testin runtime configure: containers of RuntimeClass handler "${name}" run in VMs
version = 2
[${table}]
  runtime_type = "io.containerd.runc.v2"
  # a pod's testin.* annotations (VM settings) reach the container's spec
  pod_annotations = ["testin.*"]
  container_annotations = ["testin.*"]
[${table}.options]
  BinaryName = ${JSON.stringify(script)}
`;
}

export interface ConfigureResult {
  file: string;
  changed: boolean;
  reload: string;
}

export function configureEngine(engine: 'docker' | 'containerd', name: string, script: string, file?: string): ConfigureResult {
  const path = file ?? (engine === 'docker' ? DOCKER_DAEMON_JSON : CONTAINERD_DROP_IN);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  const next = engine === 'docker' ? withDockerRuntime(current, name, script) : { text: containerdDropIn(name, script), changed: current !== containerdDropIn(name, script) };
  if (next.changed) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, next.text);
    } catch (error) {
      throw new RuntimeSetupError(`cannot write ${path}: ${(error as Error).message}`, 'run it as root, or name another file with --config');
    }
  }
  const reload =
    engine === 'docker'
      ? 'reload dockerd: systemctl reload docker (or kill -HUP the dockerd process); then docker run --runtime testin ...'
      : `make containerd read it: add "${dirname(path)}/*.toml" to imports in /etc/containerd/config.toml, then systemctl restart containerd`;
  return { file: path, changed: next.changed, reload };
}

/**
 * Builds a toolbox on the engine: a builder container from the Debian
 * base image installs Debian's packages and assembles the tree into a scratch
 * volume; a helper copies it into volumes named by the tree's hash; a last,
 * empty volume names the recipe's toolbox (so only complete toolboxes are ever
 * found). Nothing of the client goes in but testin's own files (putArchive).
 */
import { randomBytes } from 'node:crypto';
import { decodeBuildEvent, type BuildEvent } from '../contract/build-events.js';
import type { ContainerHandle, DockerClient } from '../contract/docker-client.js';
import { recipeVolumeName, toolboxVolumeName } from '../contract/docker-names.js';
import { CanceledError, ToolboxBaseError, ToolboxBuildError } from '../contract/errors.js';
import { createLabels } from '../contract/labels.js';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import { factsOf, toolboxLabels, type ToolboxFacts, type ToolboxManifest } from '../contract/toolbox-manifest.js';
import type { BuildProgress } from './build-progress.js';
import { runHelper } from './helper-container.js';
import { lineSink } from './line-sink.js';
import { ownFiles, packageVersion } from './own-files.js';
import { pinnedNodeBinary } from './pinned-node.js';
import { GUEST_ARCH_ENV, engineArch, type Arch } from '../contract/arch.js';
import { tarOf, type TarEntry } from './tar.js';

/** where testin's own files go in the builder (toolbox/builder/main.ts OWN_DIR) */
const OWN_DIR = 'testin-build';
const OUT = '/out';
/** the client's proxy settings reach apt in the builder */
const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];
const APT_TAIL_SHOWN = 12;

export interface EngineBuildOptions {
  base: string;
  /** the architecture of the toolbox's VMs */
  guest: Arch;
  recipe: string;
  progress: BuildProgress;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
}

export async function buildOnEngine(docker: DockerClient, options: EngineBuildOptions): Promise<ToolboxFacts> {
  const { base, progress } = options;
  const env = options.env ?? process.env;
  progress.begin(base);
  const baseId = await ensureBaseImage(docker, base, progress);
  // the builder runs the pinned node of the engine's architecture; the toolbox's tools are of it too (its VMs' are the guest's)
  const arch = engineArch((await docker.engine()).architecture);
  const node = await pinnedNodeBinary(arch, env);

  const scratch = `testin-build-${randomBytes(6).toString('hex')}`;
  const created: string[] = [];
  let builder: ContainerHandle | undefined;
  try {
    await docker.createVolume(scratch, createLabels({ helper: 'build' }));
    created.push(scratch);
    builder = await docker.createContainer({
      image: base,
      user: '0:0',
      entrypoint: [`/${OWN_DIR}/node`],
      cmd: [`/${OWN_DIR}/${TOOLBOX_LAYOUT.builderBundle}`, 'build', OUT],
      env: [
        `TESTIN_RECIPE=${options.recipe}`,
        `TESTIN_VERSION=${packageVersion()}`,
        `TESTIN_BASE_IMAGE=${base}`,
        `TESTIN_BASE_ID=${baseId}`,
        `${GUEST_ARCH_ENV}=${options.guest}`,
        ...PROXY_VARIABLES.flatMap((k) => (env[k] ? [`${k}=${env[k]}`] : [])),
      ],
      labels: createLabels({ helper: 'builder' }),
      mounts: [{ type: 'volume', source: scratch, target: OUT, readOnly: false }],
      tmpfs: {},
      capAdd: [],
      devices: [],
      securityOpt: [],
      openStdin: false,
    });
    await builder.putArchive(tarOf(ownEntries(node)), '/');
    const stopped = builder;
    const onAbort = (): void => void stopped.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort);
    let manifest: ToolboxManifest;
    try {
      if (options.signal?.aborted) throw new CanceledError('the toolbox build');
      manifest = await runBuilder(builder, progress);
    } catch (error) {
      throw options.signal?.aborted ? new CanceledError('the toolbox build') : error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }

    progress.on({ kind: 'stage', stage: 'fill', detail: `${toolboxVolumeName(manifest.hash)}, ${manifest.modules.volumeName}` });
    const facts = factsOf(manifest, toolboxVolumeName(manifest.hash));
    for (const [name, labels] of [
      [facts.volumeName, createLabels({ toolbox: manifest.hash, version: manifest.testin })],
      [facts.modulesVolume, createLabels({ modules: manifest.kernelRelease, version: manifest.testin })],
    ] as const) {
      if (!(await docker.inspectVolume(name))) {
        await docker.createVolume(name, labels);
        created.push(name);
      }
    }
    const copied = await runHelper(docker, {
      purpose: 'fill',
      // the new toolbox's own static busybox: no base image needed for this step
      argv: [`/from/toolbox/${TOOLBOX_LAYOUT.busybox}`, 'sh', '-c', FILL_SCRIPT],
      mounts: [
        { type: 'volume', source: scratch, target: '/from', readOnly: true },
        { type: 'volume', source: facts.volumeName, target: '/t', readOnly: false },
        { type: 'volume', source: facts.modulesVolume, target: '/m', readOnly: false },
      ],
    });
    if (copied.code !== 0) throw new ToolboxBuildError(`filling the toolbox volumes failed: ${lastLines(copied.output, 3)}`, 'check the free space where docker keeps its volumes (docker system df), then run again');
    // last: the recipe's name for this toolbox; until it exists, the toolbox is not found
    const pointer = recipeVolumeName(options.recipe);
    await docker.removeVolume(pointer);
    await docker.createVolume(pointer, toolboxLabels(facts));
    created.length = 0;
    progress.finish(`toolbox ${facts.volumeName} ready: kernel ${facts.kernelRelease}, from ${base}`);
    return facts;
  } catch (error) {
    progress.abort();
    throw error;
  } finally {
    await builder?.remove().catch(() => undefined);
    await docker.removeVolume(scratch).catch(() => undefined);
    // a build that failed leaves no half-filled volume: the next run builds again
    for (const name of created) await docker.removeVolume(name).catch(() => undefined);
  }
}

const FILL_SCRIPT = `set -e
if [ ! -e /t/${TOOLBOX_LAYOUT.complete} ]; then cp -a /from/toolbox/. /t/; touch /t/${TOOLBOX_LAYOUT.complete}; fi
if [ ! -e /m/${TOOLBOX_LAYOUT.complete} ]; then cp -a /from/modules/. /m/; touch /m/${TOOLBOX_LAYOUT.complete}; fi`;

function ownEntries(node: string): TarEntry[] {
  const own = ownFiles();
  return [
    { kind: 'dir', name: OWN_DIR },
    { kind: 'file', name: `${OWN_DIR}/node`, path: node, mode: 0o755 },
    { kind: 'file', name: `${OWN_DIR}/${TOOLBOX_LAYOUT.bundle}`, path: own.containerInit },
    { kind: 'file', name: `${OWN_DIR}/${TOOLBOX_LAYOUT.builderBundle}`, path: own.builder },
    { kind: 'dir', name: `${OWN_DIR}/initfs` },
    ...own.initSources.map((path): TarEntry => ({ kind: 'file', name: `${OWN_DIR}/initfs/${path.slice(path.lastIndexOf('/') + 1)}`, path })),
  ];
}

/** Runs the builder to its end: its events drive the progress; its other output is kept for errors. */
async function runBuilder(builder: ContainerHandle, progress: BuildProgress): Promise<ToolboxManifest> {
  let manifest: ToolboxManifest | undefined;
  let failed: Extract<BuildEvent, { kind: 'failed' }> | undefined;
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  const stdout = lineSink((line) => {
    const event = decodeBuildEvent(line);
    if (!event) return keep(line);
    if (event.kind === 'done') manifest = event.manifest;
    else if (event.kind === 'failed') failed = event;
    else progress.on(event);
  });
  const stderr = lineSink(keep);
  const { ended } = await builder.attach({ stdout, stderr });
  const exited = builder.wait();
  await builder.start();
  const code = await exited;
  await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
  stdout.flushLine();
  stderr.flushLine();
  if (manifest && code === 0) return manifest;
  const lines = (failed?.tail.length ? failed.tail : tail).filter((l) => l.trim()).slice(-APT_TAIL_SHOWN);
  const what = failed ? `${failed.message} (stage: ${failed.stage})` : `the builder exited with code ${code}`;
  const network = failed?.stage === 'index' || failed?.stage === 'download';
  const full = [...lines, ...tail].some((l) => /no space left on device/i.test(l));
  throw new ToolboxBuildError(
    `the toolbox build failed: ${what}${full ? ": the engine's disk is full" : ''}${lines.length ? `; its last lines:\n${lines.map((l) => `  | ${l}`).join('\n')}` : ''}`,
    full
      ? 'free space where the engine keeps its data (docker system df; docker system prune; testin toolbox prune removes old toolboxes: a build needs about 1 GiB), then run again'
      : network
        ? "let the engine's containers reach Debian's package mirror (a proxy: HTTP_PROXY is passed on to the build), or load a built toolbox: testin toolbox load FILE"
        : 'build from a Debian base image (--toolbox-base debian:trixie-slim or debian:bookworm-slim); if it still fails, report it with this output',
  );
}

/** The base image's ID, pulling it (with progress) when the engine does not have it. */
async function ensureBaseImage(docker: DockerClient, base: string, progress: BuildProgress): Promise<string> {
  progress.on({ kind: 'stage', stage: 'base', detail: base });
  const local = await docker.inspectImage(base);
  if (local) return local.id;
  const layers = new Map<string, { current: number; total: number }>();
  try {
    await docker.pullImage(base, (event) => {
      if (!event.id || !event.total) return;
      layers.set(event.id, { current: event.current ?? 0, total: event.total });
      const sum = (k: 'current' | 'total'): number => [...layers.values()].reduce((a, l) => a + l[k], 0);
      progress.on({ kind: 'progress', stage: 'base', done: [...layers.values()].filter((l) => l.current >= l.total).length, total: layers.size, bytes: sum('current'), totalBytes: sum('total'), item: 'layers' });
    });
  } catch (error) {
    throw new ToolboxBaseError(base, firstLine((error as { json?: { message?: string } }).json?.message ?? (error as Error).message), error);
  }
  const pulled = await docker.inspectImage(base);
  if (!pulled) throw new ToolboxBaseError(base, 'the pull ended without the image');
  return pulled.id;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' / ');
}


/**
 * Short-lived containers testin makes for itself on the engine: to fill or
 * copy volumes, prepare a user's kernel, probe for /dev/kvm. They run the
 * toolbox's own static busybox or node, so their image is a tiny local one
 * (no registry, no base image needed once a toolbox exists).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerHandle, ContainerMount, ContainerSpec, DockerClient } from '../contract/docker-client.js';
import { createLabels } from '../contract/labels.js';
import { tarOf } from './tar.js';

/**
 * One empty folder, imported from a tar: containers of it run only what their mounts bring.
 * Named in full (localhost/): Podman qualifies a short name with docker.io/library/ and
 * would not find it again.
 */
const HELPER_IMAGE = 'localhost/testin-helper:1';

export interface HelperSpec {
  /** what the helper is for: the value of its testin.helper label */
  purpose: string;
  argv: string[];
  mounts: ContainerMount[];
  env?: string[];
  devices?: string[];
  capAdd?: string[];
  securityOpt?: string[];
  /** another image than the helper image (the builder's Debian base) */
  image?: string;
  /** the engine's default network, as a run's container gets it (a look at what a run would meet); else none */
  network?: 'default';
}

export interface HelperResult {
  code: number;
  /** stdout and stderr together */
  output: string;
}

/** the one container spec of every helper: its label, no network unless asked, nothing it was not given */
function helperContainerSpec(spec: HelperSpec): ContainerSpec {
  const [entry, ...cmd] = spec.argv as [string, ...string[]];
  return {
    image: spec.image ?? HELPER_IMAGE,
    entrypoint: [entry],
    cmd,
    env: spec.env ?? [],
    labels: createLabels({ helper: spec.purpose }),
    mounts: spec.mounts,
    tmpfs: {},
    capAdd: spec.capAdd ?? [],
    devices: spec.devices ?? [],
    securityOpt: spec.securityOpt ?? [],
    // an engine whose network cannot be set up (rootless Podman without a usable /dev/net/tun) still runs helpers
    ...(spec.network ? {} : { networkMode: 'none' }),
    openStdin: false,
  };
}

async function ensureHelperImage(docker: DockerClient): Promise<void> {
  await docker.ensureImportedImage(HELPER_IMAGE, helperImageTar);
}

/** Runs a helper to its end and removes it; start errors (a device the engine lacks) are thrown. */
export async function runHelper(docker: DockerClient, spec: HelperSpec): Promise<HelperResult> {
  if (!spec.image) await ensureHelperImage(docker);
  const container = await docker.createContainer(helperContainerSpec(spec));
  // waiting starts before the start: a quick helper may be gone before a later wait is asked
  const exited = container.wait().catch(() => -1);
  try {
    await container.start();
    const code = await exited;
    return { code, output: await container.logs() };
  } finally {
    await container.remove();
  }
}

/** the helper image: one empty folder (mount points are made by docker) */
async function helperImageTar(): Promise<NodeJS.ReadableStream> {
  const dir = mkdtempSync(join(tmpdir(), 'testin-helper-'));
  mkdirSync(join(dir, 'testin'));
  // tar-fs is CommonJS: its exports are the default export, in node's ESM and in the bundle alike
  const { pack } = (await import('tar-fs')).default;
  const stream = pack(dir) as unknown as NodeJS.ReadableStream;
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  stream.on('end', cleanup);
  stream.on('close', cleanup);
  stream.on('error', cleanup);
  return stream;
}

/** what a holder runs to stay up: a static busybox, from a volume it mounts or staged into it by bytes */
export type HolderRunner = { busybox: string } | { stage: Buffer };

/** busybox takes its applet from its own name: the staged copy keeps the name busybox */
const STAGED_BUSYBOX = '/testin-holder/busybox';

/**
 * A helper that holds volumes open for putArchive and getArchive: running (a
 * static busybox sleeps in it), because Podman reads and writes a created
 * container's root, not its volumes, until it runs. Removed when `use` ends,
 * whatever happens.
 */
export async function withHolder<T>(docker: DockerClient, purpose: string, mounts: ContainerMount[], runner: HolderRunner, use: (holder: ContainerHandle) => Promise<T>): Promise<T> {
  await ensureHelperImage(docker);
  const holder = await docker.createContainer(helperContainerSpec({ purpose, argv: ['busybox' in runner ? runner.busybox : STAGED_BUSYBOX, 'sleep', '3600'], mounts }));
  try {
    // a created container's root takes files on every engine: the busybox that keeps it up goes there
    if ('stage' in runner) {
      await holder.putArchive(tarOf([{ kind: 'dir', name: 'testin-holder', mode: 0o755 }, { kind: 'data', name: STAGED_BUSYBOX.slice(1), data: runner.stage, mode: 0o755 }]), '/');
    }
    await holder.start();
    // up, or it could not run: then the engine would read and write its root instead of its volumes
    if (!(await holder.inspect()).running) throw new Error(`testin's ${purpose} helper did not stay up: ${(await holder.logs()).trim().split('\n').at(-1) ?? 'no output'}`);
    return await use(holder);
  } finally {
    await holder.remove();
  }
}

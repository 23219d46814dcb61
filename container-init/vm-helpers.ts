/**
 * The VMM's helpers, started side by side before it: one virtiofsd per cache
 * policy (the image's root, and the user's volumes when they want another),
 * and passt when it carries the VM's packets. The VMM starts once each
 * virtiofsd listens; passt and the VMM share a socket pair made before both.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { TOOLBOX_LAYOUT, toolboxExec } from '../contract/layout.js';
import type { FsCache, RunPlan } from '../contract/run-plan.js';
import type { VirtiofsdFlavor } from '../contract/toolbox-manifest.js';
import { startHelper, type Helper } from './child-process.js';
import type { HeldVmm } from './held-vmm.js';
import { MountBatch, addRamTmpfs, markRamTmpfs, ramTmpfsMounted } from './prepare-root.js';
import { PASST_PAIR_FD, buildPasstArgs, passtUid, type Netdev } from './guest-network.js';
import { listeningUnixSockets } from './unix-sockets.js';
import { buildVirtiofsdArgs, shareCaches, userModeEmulated } from './virtiofsd-args.js';
import { ARCHES, archOf } from '../contract/arch.js';

const SOCKET_WAIT_MS = 10_000;

export interface VmHelpers {
  virtiofsd: Helper[];
  passt?: Helper | undefined;
  fsSocket: string;
  volSocket?: string | undefined;
  netdev: Netdev;
  /** a helper that did not come up, with what it said */
  failed?: string | undefined;
  caches: { root: FsCache; volumes?: FsCache };
  /** a choice made for this container that --debug tells */
  note?: string | undefined;
  /** our end of the socket pair to passt: the VMM's, at its fd netdev.fd (and closed here once it has it) */
  passtEnd?: Socket | undefined;
}

/** What the VMM gets of its helpers, known before any starts (the snapshot's name is made of it): their sockets, the cache policies, the netdev. */
export type HelperShape = Pick<VmHelpers, 'fsSocket' | 'volSocket' | 'caches' | 'netdev'>;

export function helperShape(plan: RunPlan, work: string, hasVolumes: boolean): HelperShape {
  // the same tree twice when the volumes want another cache policy than the root (see shareCaches)
  const caches = shareCaches(plan.fsCache, hasVolumes);
  return {
    fsSocket: join(work, 'fs.sock'),
    volSocket: caches.volumes ? join(work, 'fs-vol.sock') : undefined,
    caches,
    netdev: plan.network.nic && plan.network.backend === 'passt' ? { kind: 'passt', fd: PASST_PAIR_FD } : { kind: 'slirp' },
  };
}

export async function startVmHelpers(
  plan: RunPlan,
  options: { toolbox: string; work: string; newRoot: string; flavor: VirtiofsdFlavor; hasVolumes: boolean; held?: HeldVmm | undefined },
): Promise<VmHelpers> {
  const { fsSocket, volSocket, caches, netdev } = helperShape(plan, options.work, options.hasVolumes);
  const shares: { name: string; socket: string; cache: FsCache }[] = [
    { name: 'virtiofsd', socket: fsSocket, cache: caches.root },
    ...(volSocket && caches.volumes ? [{ name: 'virtiofsd (volumes)', socket: volSocket, cache: caches.volumes }] : []),
  ];
  const emulated = runsEmulated();
  const started = shares.map((s) => ({
    socket: s.socket,
    helper: startHelper(s.name, [...toolboxExec(TOOLBOX_LAYOUT.virtiofsd, options.toolbox), ...buildVirtiofsdArgs(options.flavor, s.socket, options.newRoot, s.cache, emulated)], process.env),
  }));
  const helpers: VmHelpers = { virtiofsd: started.map((h) => h.helper), fsSocket, volSocket, netdev, caches };

  if (netdev.kind === 'passt') {
    const uid = passtUid(readFileSync('/proc/self/uid_map', 'utf8'));
    // a socket pair: passt's end at its fd 3, ours handed on to the VMM, which starts at once (no socket to wait for);
    // the held VMM has its end already (PID 1 made the pair): passt gets the other
    const args = [...toolboxExec(TOOLBOX_LAYOUT.passt, options.toolbox, TOOLBOX_LAYOUT.hugeBss), ...buildPasstArgs(PASST_PAIR_FD, plan.network.forwards, uid)];
    helpers.passt = options.held ? startHelper('passt', args, process.env, { fd3: options.held.pair }) : startHelper('passt', args, process.env, { controlFd: true });
    helpers.passtEnd = helpers.passt.control;
    if (uid === 0) helpers.note = "passt runs as the container's root: the container has a user namespace of its own (a rootless engine), where that root is an unprivileged user of the host";
  }

  // passt has its copy (or the VM has no passt): ours would keep the pair open
  options.held?.pair.destroy();
  // side by side; the VMM needs their sockets
  const ready = await Promise.all(started.map((h) => waitForListening(h.socket, SOCKET_WAIT_MS, h.helper)));
  const failed = started.find((_, i) => !ready[i]);
  if (failed) helpers.failed = `${failed.helper.name} did not start: ${failed.helper.output().trim() || 'no socket appeared'}`;
  return helpers;
}

/** the toolbox's binaries run under a user-mode emulator here (an arm64 engine emulated on x86-64: test/manual/arm64-engine.sh) */
function runsEmulated(): boolean {
  const own = archOf(process.arch);
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/arch', 'utf8');
  } catch {
    return false;
  }
  return own !== undefined && userModeEmulated(kernel, ARCHES[own].machine);
}

/**
 * Waits until a helper listens on its unix socket. The socket file appears at
 * bind(), a moment before listen(): a QEMU that connected in between would be
 * refused and fail to start. /proc/net/unix says which sockets listen.
 */
async function waitForListening(path: string, timeoutMs: number, helper: Helper): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let ended = false;
  void helper.exited.then(() => (ended = true));
  const listening = (): boolean => existsSync(path) && listeningUnixSockets(readFileSync('/proc/net/unix', 'utf8')).has(path);
  while (Date.now() < deadline && !ended) {
    if (listening()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return listening();
}

/**
 * The guest's memory as a file (empty, of its size) on a tmpfs of its own in
 * `dir`, mounted once per container (with the root's mounts, or here): QEMU maps it, virtiofsd maps it through
 * QEMU, and a snapshot keeps it (ram-image.ts). Its pages count against the
 * container's memory as a memfd's would. Returns the file, or why there is none.
 */
export async function prepareRamFile(toolbox: string, dir: string, sizeBytes: number): Promise<{ file: string } | { failed: string }> {
  try {
    if (!ramTmpfsMounted(dir)) {
      await addRamTmpfs(new MountBatch(toolbox), dir, sizeBytes).runAsync();
      markRamTmpfs(dir);
    }
    const file = join(dir, 'guest.ram');
    rmSync(file, { force: true });
    const fd = openSync(file, 'w', 0o600);
    try {
      ftruncateSync(fd, sizeBytes);
    } finally {
      closeSync(fd);
    }
    return { file };
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { failed: stderr || (error as Error).message };
  }
}

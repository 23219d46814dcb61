/**
 * QEMU as the VMM: the toolbox's binary (its own loader, its TCG module, its
 * firmware), a snapshot saved and restored through its monitor (QMP) as a
 * migration to and from a file. The guest's RAM is a shared file that the
 * migration leaves out (x-ignore-shared): the snapshot keeps it as an image of
 * its own (ram-image.ts), written back into the RAM file while QEMU starts.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES } from '../contract/arch.js';
import { TOOLBOX_LAYOUT, toolboxExec } from '../contract/layout.js';
import { startHelper } from './child-process.js';
import { Qmp } from './qmp.js';
import { buildQemuArgs, qemuControlArgs } from './qemu-args.js';
import { SnapshotLoadError, type Vmm, type VmmInstance } from './vmm.js';

/** how long QEMU's monitor may take to appear: a busy machine starts QEMU slowly, which is no failure */
const MONITOR_WAIT_MS = 60_000;
const RUN_STATE_WAIT_MS = 5000;

const CAPABILITIES = [
  { capability: 'events', state: true },
  { capability: 'x-ignore-shared', state: true },
];

/**
 * glibc's malloc backed by transparent huge pages (where the host has them on madvise or always):
 * QEMU's start touches ~13 MB of fresh heap, one 4 KiB page fault each (~13 us on this machine,
 * itself a paravirtual guest), and half of its faults go. Alone, QEMU's start to its monitor with
 * a run's devices: 129 -> 85 ms (perf stat, 5 runs each). initfs/pid1.c gives the held QEMU the same.
 */
export const VMM_GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1';

export function qemuVmm(toolbox: string): Vmm {
  const tb = (p: string): string => join(toolbox, p);
  return {
    name: 'QEMU',
    argv(spec) {
      return buildQemuArgs(
        spec.vm,
        { kernel: spec.kernel, initrd: spec.initrd, firmwareDir: tb(TOOLBOX_LAYOUT.firmware), fsSocket: spec.fsSocket, volSocket: spec.volSocket, ctlSocket: spec.ctlSocket, consoleLog: spec.consoleLog, ramFile: spec.ramFile },
        spec.network,
        spec.netdev,
        ARCHES[spec.arch],
      );
    },
    start(spec, options) {
      const qmpSocket = join(options.work, 'qmp.sock');
      rmSync(qmpSocket, { force: true });
      const argv = [...this.argv(spec), ...(options.control ? qemuControlArgs({ qmpSocket, incoming: options.incoming }) : [])];
      const helper = options.held
        ? options.held.release('qemu', argv)
        : startHelper('qemu', [...toolboxExec(TOOLBOX_LAYOUT.qemu, toolbox), ...argv], { ...process.env, QEMU_MODULE_DIR: tb(TOOLBOX_LAYOUT.qemuModules), GLIBC_TUNABLES: VMM_GLIBC_TUNABLES }, { fd3: options.fd3 });
      const gone = (): boolean => helper.child.exitCode !== null || helper.child.signalCode !== null;
      let monitor: Promise<Qmp> | undefined;
      const qmp = (): Promise<Qmp> => {
        if (!options.control) return Promise.reject(new Error('QEMU was started without its monitor'));
        monitor ??= Qmp.connect(qmpSocket, MONITOR_WAIT_MS, gone);
        return monitor;
      };
      const instance: VmmInstance = {
        argv,
        exited: helper.exited,
        helper,
        kill: () => void helper.child.kill('SIGKILL'),
        describeExit(exit) {
          const said = helper.output().trim().split('\n').at(-1);
          return `QEMU exited with ${exit.signal ?? `code ${exit.code}`}${said ? `: ${said}` : ''}`;
        },
        async save(file, whileStopped) {
          const q = await qmp();
          await q.execute('stop');
          const stoppedAt = Date.now();
          try {
            await q.execute('migrate-set-capabilities', { capabilities: CAPABILITIES });
            await migrationEnd(q, () => q.execute('migrate', { uri: `file:${file}` }), Error);
            await whileStopped();
            return stoppedAt;
          } finally {
            await cont(q);
          }
        },
        async restore(file, ramReady) {
          const t0 = Date.now();
          const q = await qmp();
          const tq = Date.now();
          await ramReady.catch((e: Error) => Promise.reject(new SnapshotLoadError(`its RAM did not load: ${e.message}`)));
          const t1 = Date.now();
          await q.execute('migrate-set-capabilities', { capabilities: CAPABILITIES });
          // a refusal of the file itself (missing, unreadable, not a migration stream) is the snapshot's
          await migrationEnd(q, () => q.execute('migrate-incoming', { uri: `file:${file}` }).catch((e: Error) => Promise.reject(new SnapshotLoadError(e.message))), SnapshotLoadError);
          const t2 = Date.now();
          // saved while stopped, it comes back stopped
          await cont(q);
          return { monitorMs: tq - t0, ramMs: t1 - tq, loadMs: t2 - t1, resumeMs: Date.now() - t2, resumedAt: t2 };
        },
        async runState() {
          if (gone()) return undefined;
          const q = await Promise.race([qmp(), nothingAfter(RUN_STATE_WAIT_MS)]).catch(() => undefined);
          const status = q && ((await Promise.race([q.execute('query-status'), nothingAfter(RUN_STATE_WAIT_MS)]).catch(() => undefined)) as { status?: string } | undefined);
          return status?.status;
        },
        close() {
          void monitor?.then((q) => q.close(), () => undefined);
        },
      };
      return instance;
    },
  };
}

/** resolves with undefined after `ms` (a bound on a question to a busy VMM); does not keep the process alive */
function nothingAfter(ms: number): Promise<undefined> {
  return new Promise((resolve) => {
    setTimeout(() => resolve(undefined), ms).unref();
  });
}

/** runs a migration and waits for its end; a failed one throws `failure` (for a restore: the stream did not load) */
async function migrationEnd(qmp: Qmp, run: () => Promise<unknown>, failure: new (message: string) => Error): Promise<void> {
  const ended = qmp.event('MIGRATION', (d) => d.status === 'completed' || d.status === 'failed');
  await run();
  const { status } = await ended;
  if (status === 'completed') return;
  const info = (await qmp.execute('query-migrate').catch(() => ({}))) as { 'error-desc'?: string };
  throw new failure(`the migration failed${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
}

/**
 * Lets the guest run again. Right after a migration's "completed" event QEMU may
 * still be finishing it and refuse ("Migration is not finalized yet"): asked
 * again until it takes, within a bound.
 */
async function cont(qmp: Qmp, boundMs = 5000): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    try {
      await qmp.execute('cont');
      return;
    } catch (error) {
      if (!/not finalized/i.test((error as Error).message) || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

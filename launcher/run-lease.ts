/**
 * The client's side of the lease on a run (container-init/client-lease.ts):
 * `testin-agent --lease` docker exec'd in the run's container with stdin open,
 * for as long as the run lasts. Should this process die, the engine ends the
 * exec and the run stops by itself: nothing is left, even on a remote engine
 * this host cannot clean up. The run's result (its timeline) comes back on it.
 */
import { PassThrough } from 'node:stream';
import type { ContainerHandle } from '../contract/docker-client.js';
import { LEASE_SOCKET, TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from '../contract/layout.js';
import { collectInto } from './output-sinks.js';

/** how long a persistent session may take to acknowledge that it outlives its client */
const PERSIST_WAIT_MS = 10_000;

export interface RunLease {
  /** what container-init sent at the run's end (its timeline); undefined when nothing came within `boundMs` */
  result(boundMs: number): Promise<string | undefined>;
  /** lets go of the lease (the run is over, or stopped on purpose) */
  release(): void;
  /** lets go of the lease, and the run outlives this client (a persistent session, once it is up); resolves once the run has taken it */
  persist(): Promise<void>;
}

/** Takes the lease on a started container; a lease the engine refuses is said in `onError` and the run goes on. */
export async function takeLease(container: ContainerHandle, onError: (error: Error) => void): Promise<RunLease> {
  const stdin = new PassThrough();
  const out: Buffer[] = [];
  /** resolves when the whole result (one line) came, or the lease ended */
  let resultIn: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (resultIn = resolve));
  const sink = collectInto(out);
  sink.on('data', (chunk: Buffer) => chunk.includes(0x0a) && resultIn());
  let done: Promise<unknown>;
  try {
    const exec = await container.exec({ cmd: [`${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.agent}`, '--lease', LEASE_SOCKET], env: [], stdin: true, tty: false });
    done = exec.run({ stdout: sink, stderr: collectInto([]), stdin, background: true }).catch((error: Error) => onError(error));
  } catch (error) {
    onError(error as Error);
    done = Promise.resolve();
  }
  void done.then(resultIn);
  return {
    async result(boundMs) {
      // a timer of its own keeps this process up while it waits (the lease's connection does not: it is in the background)
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([arrived, new Promise((resolve) => (timer = setTimeout(resolve, boundMs)))]);
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8').trim();
      return text || undefined;
    },
    release() {
      stdin.end();
    },
    async persist() {
      stdin.end('persist\n');
      // the run closes the lease when it has read this: only then may this process exit
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, PERSIST_WAIT_MS)))]);
      clearTimeout(timer);
    },
  };
}

/**
 * `testin run -d`: the container is created and started and the client returns with its name,
 * as `docker run -d` does. The VM runs on without a client: no lease (it outlives this process),
 * no owner (no later run reaps it); the engine has the rest: `docker logs` shows its output,
 * `docker wait` gives the command's exit code, `docker stop` gives the command its stop signal,
 * and the engine removes it when it ends (--rm, always on). `testin ls` lists it.
 */
import type { Writable } from 'node:stream';
import type { RunLogger } from './logger.js';
import type { DockerClient } from '../contract/docker-client.js';
import { CanceledError, UsageError } from '../contract/errors.js';
import type { RunOptions } from '../contract/run-options.js';
import { dockerRefusal } from './docker-refusal.js';
import { createLogger } from './logger.js';
import { createRunContainer } from './run-container.js';
import { RunStopper } from './run-stopper.js';

export interface DetachedRun {
  /** the container's name (docker's generated one without --name) */
  name: string;
  id: string;
}

export interface DetachIo {
  /** notices and the toolbox build's progress */
  stderr?: Writable;
  /** aborting stops the set-up; nothing is left */
  signal?: AbortSignal;
  /** Ctrl-C/SIGTERM of this process stop the set-up (before the container runs) */
  forwardProcessSignals?: boolean;
  docker?: DockerClient;
  logger?: RunLogger;
}

/** Starts the run and returns once its container runs; the VM goes on without this process. */
export async function runDetached(options: RunOptions, io: DetachIo = {}): Promise<DetachedRun> {
  if (options.interactive && !options.tty) throw new UsageError('-d with -i but no -t: nothing could write to its stdin', 'drop -i, or add -t and attach later with docker attach');
  const stopper = new RunStopper({ signal: io.signal, processSignals: io.forwardProcessSignals === true });
  try {
    const created = await createRunContainer(options, { docker: io.docker, stderr: io.stderr ?? process.stderr, logger: io.logger ?? createLogger(options.logLevel), signal: stopper.signal, detached: true });
    const { container } = created;
    try {
      if (stopper.stopped) throw new CanceledError('the run');
      await container.start();
      const { name } = await container.inspect();
      return { name: name.replace(/^\//, ''), id: container.id };
    } catch (error) {
      await container.remove().catch(() => undefined);
      throw dockerRefusal(error, options) ?? error;
    }
  } finally {
    stopper.close();
  }
}

/**
 * The client's lease on a run (plan.lease). While the client is there the run
 * goes on; when it goes (killed, its machine or network gone) the run stops by
 * itself, as testcontainers' Ryuk removes a dead client's containers. At the
 * run's end the result (the timeline) goes back to it, before the container
 * exits and the engine removes it. Two ways:
 * - 'exec' (ClientLease): the launcher docker-execs `testin-agent --lease` beside
 *   the run, which joins its stdio to this socket; the engine ends the exec when
 *   the client goes. A persistent session (testin up) is leased so while it
 *   starts; once up, its client says `persist` and may go.
 * - on stdin (StdinLease): the client attached this container's stdin and never
 *   writes to it; the engine closes it when the client goes (StdinOnce).
 */
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

/** how long the client has to connect after the container started (a busy engine execs slowly) */
export const LEASE_CONNECT_MS = 30_000;
/** after the result went out, how long the client has to read it before the container exits */
const DELIVER_WAIT_MS = 2000;

export interface Lease {
  /** The run's result to the client; resolves once it is out (or the client is gone). */
  deliver(result: string): Promise<void>;
}

export class ClientLease implements Lease {
  #server: Server;
  #socket?: Socket;
  #delivered = false;
  #gone = false;
  /** the client said `persist`: the run outlives it (testin up, once the session is up) */
  #persistent = false;
  readonly #connectTimer: NodeJS.Timeout;

  constructor(path: string, private readonly onGone: (why: string) => void, connectMs = LEASE_CONNECT_MS) {
    rmSync(path, { force: true });
    this.#server = createServer((socket) => this.#accept(socket));
    this.#server.on('error', (error) => this.#lost(`its lease socket failed: ${error.message}`));
    this.#server.listen(path);
    this.#connectTimer = setTimeout(() => this.#lost(`it did not take its lease within ${connectMs / 1000} s`), connectMs);
    this.#connectTimer.unref();
  }

  #accept(socket: Socket): void {
    if (this.#socket) return void socket.destroy();
    clearTimeout(this.#connectTimer);
    this.#socket = socket;
    let said = '';
    socket.on('data', (chunk: Buffer) => {
      said = (said + chunk.toString('latin1')).slice(-64);
      if (said.includes('persist\n')) this.#persist();
    });
    socket.on('error', () => undefined);
    // its end (the exec's stdin ended) or its close (the engine ended the exec): the client is gone
    socket.on('end', () => this.#lost('its connection to the engine ended'));
    socket.on('close', () => this.#lost('its connection to the engine ended'));
  }

  #persist(): void {
    this.#persistent = true;
    clearTimeout(this.#connectTimer);
    this.#socket?.end();
    this.#server.close();
  }

  #lost(why: string): void {
    if (this.#delivered || this.#gone || this.#persistent) return;
    this.#gone = true;
    this.onGone(why);
  }

  /** The run's result to the client; resolves once it has read it (or after a bound, or at once when it is gone). */
  deliver(result: string): Promise<void> {
    this.#delivered = true;
    clearTimeout(this.#connectTimer);
    this.#server.close();
    const socket = this.#socket;
    if (!socket || socket.destroyed || this.#gone || this.#persistent) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, DELIVER_WAIT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end(`${result}\n`);
    });
  }
}

/** The lease on this process's stdin, which the client holds open (plan.lease's `stdinMark`); the result goes last on stderr, after the mark. */
export class StdinLease implements Lease {
  #done = false;

  constructor(
    private readonly mark: string,
    onGone: (why: string) => void,
  ) {
    const lost = (): void => {
      if (this.#done) return;
      this.#done = true;
      onGone('its connection to the engine ended');
    };
    process.stdin.on('data', () => undefined);
    process.stdin.on('end', lost);
    process.stdin.on('close', lost);
    process.stdin.on('error', lost);
  }

  deliver(result: string): Promise<void> {
    this.#done = true;
    // nothing more is read: no read of stdin is left pending at the exit
    process.stdin.removeAllListeners('data');
    process.stdin.destroy();
    return new Promise((resolve) => process.stderr.write(`${this.mark}${result}\n`, () => resolve()));
  }
}

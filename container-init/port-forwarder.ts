import { kernelRandomBytes, sameSecret } from '../contract/kernel-random.js';
import { createServer, type Server, type Socket } from 'node:net';
import { TUNNEL_HELLO_LEN, TUNNEL_TOKEN_LEN, encodeDial } from '../contract/control-protocol.js';

/** a connection the guest has not dialled back for within this long is reset */
const DIAL_WAIT_MS = 10_000;

/**
 * The guest's servers, reachable in the container's network on the ports they
 * listen on, as a container's would be, declared or not (initfs/forward.c is the
 * guest's half). The guest reports its listening ports; this listens on the
 * same ports in the container and, for each connection, asks the guest to dial
 * back to the tunnel: the init connects to its server and to the tunnel port,
 * which the network backend maps from the NIC's gateway to this container's
 * loopback, and the two streams are joined.
 *
 * Declared ports (-p, --expose) stay with the network backend, which forwards
 * them itself (UDP included).
 */
export class PortForwarder {
  readonly #token = kernelRandomBytes(TUNNEL_TOKEN_LEN);
  #tunnel?: Server;
  readonly #listeners = new Map<number, Server>();
  readonly #waiting = new Map<number, { client: Socket; timer: NodeJS.Timeout }>();
  #next = 1;
  #closed = false;

  constructor(
    /** a frame to the guest's init */
    private readonly send: (frame: Buffer) => void,
    /** ports the network backend forwards already */
    private readonly declared: ReadonlySet<number>,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  /** the tunnel's port on the container's loopback, and the token the guest proves itself with */
  async start(): Promise<{ port: number; token: Buffer }> {
    const tunnel = createServer({ allowHalfOpen: true }, (socket) => this.#fromGuest(socket));
    this.#tunnel = tunnel;
    await new Promise<void>((resolve, reject) => {
      tunnel.once('error', reject);
      tunnel.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    const address = tunnel.address();
    return { port: typeof address === 'object' && address ? address.port : 0, token: this.#token };
  }

  /** the guest's listening ports now: listen on the new ones, stop on those gone; settles when that is done */
  async update(ports: readonly number[]): Promise<void> {
    if (this.#closed) return;
    const want = new Set(ports.filter((p) => !this.declared.has(p)));
    const done: Promise<void>[] = [];
    for (const [port, server] of this.#listeners) {
      if (want.has(port)) continue;
      done.push(new Promise((resolve) => server.close(() => resolve())));
      this.#listeners.delete(port);
    }
    for (const port of want) if (!this.#listeners.has(port)) done.push(this.#listen(port));
    await Promise.all(done);
  }

  close(): void {
    this.#closed = true;
    this.#tunnel?.close();
    for (const server of this.#listeners.values()) server.close();
    this.#listeners.clear();
    for (const { client, timer } of this.#waiting.values()) {
      clearTimeout(timer);
      client.destroy();
    }
    this.#waiting.clear();
  }

  /** settles once the port listens, or could not */
  #listen(port: number): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.#accepted(port, client));
    this.#listeners.set(port, server);
    return new Promise((resolve) => {
      // the port may be taken in the container (by the backend's own sockets): the guest's server stays unreachable there
      server.on('error', (e) => {
        this.log(`port ${port}: not forwarded (${(e as NodeJS.ErrnoException).code ?? e.message})`);
        if (this.#listeners.get(port) === server) this.#listeners.delete(port);
        resolve();
      });
      server.listen({ host: '0.0.0.0', port }, () => {
        this.log(`port ${port}: forwarded to the guest`);
        resolve();
      });
    });
  }

  #accepted(port: number, client: Socket): void {
    const conn = this.#next++;
    const timer = setTimeout(() => {
      this.#waiting.delete(conn);
      client.resetAndDestroy();
    }, DIAL_WAIT_MS);
    client.on('error', () => undefined);
    client.once('close', () => {
      if (this.#waiting.get(conn)?.client !== client) return;
      clearTimeout(timer);
      this.#waiting.delete(conn);
    });
    this.#waiting.set(conn, { client, timer });
    this.send(encodeDial(port, conn));
  }

  /** a dial back: the hello first, then the stream joined to the waiting client's */
  #fromGuest(socket: Socket): void {
    socket.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.length < TUNNEL_HELLO_LEN) return;
      socket.off('data', onData);
      socket.pause();
      const token = head.subarray(0, TUNNEL_TOKEN_LEN);
      const conn = head.readUInt32LE(TUNNEL_TOKEN_LEN);
      const refused = head[TUNNEL_TOKEN_LEN + 4] !== 0;
      const waiting = sameSecret(token, this.#token) ? this.#waiting.get(conn) : undefined;
      if (!waiting) return void socket.destroy();
      clearTimeout(waiting.timer);
      this.#waiting.delete(conn);
      const { client } = waiting;
      // the guest's server is not there (any more): the client is refused, as it would be
      if (refused) {
        socket.destroy();
        return void client.resetAndDestroy();
      }
      const rest = head.subarray(TUNNEL_HELLO_LEN);
      if (rest.length) client.write(rest);
      join(client, socket);
    };
    socket.on('data', onData);
  }
}

/** each way until it ends (passed on as a half-close); a reset or error on one side ends both */
function join(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const ended = (): void => {
    if (a.writableEnded && b.writableEnded) {
      a.destroy();
      b.destroy();
    }
  };
  for (const s of [a, b]) {
    s.on('end', () => setImmediate(ended));
    s.once('close', (hadError) => {
      if (hadError) {
        a.destroy();
        b.destroy();
      }
    });
  }
  a.resume();
  b.resume();
}

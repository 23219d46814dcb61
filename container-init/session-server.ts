import { createServer, type Server, type Socket } from 'node:net';
import { FrameReader, MessageType, encodeExec, encodeFrame, encodeSignal, type ExecRequest, type Frame } from '../contract/control-protocol.js';
import type { SessionExecRequest } from '../contract/session-protocol.js';

/**
 * A session's VM serves many commands: each client (one `docker exec` of
 * `container-init --exec`) gets its own command id; its frames go to the guest
 * with that id, and the guest's frames for that id come back to it.
 */
export class SessionServer {
  #server?: Server;
  #clients = new Map<number, Socket>();
  #nextId = 1;
  /** commands started detached (docker exec -d): their client's going does not take them */
  #detached = new Set<number>();
  /** the VM has ended: why, told to every client that comes now */
  #ended?: string;

  constructor(
    private readonly toGuest: (frame: Buffer) => void,
    private readonly toExec: (req: SessionExecRequest) => ExecRequest,
  ) {}

  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server = createServer((socket) => this.#accept(socket));
      this.#server.on('error', reject);
      this.#server.listen(path, () => resolve());
    });
  }

  /** a frame from the guest for a command of this session */
  fromGuest(frame: Frame): void {
    if (frame.type === MessageType.exit) this.#detached.delete(frame.id);
    const client = this.#clients.get(frame.id);
    if (!client) return;
    client.write(encodeFrame(frame.type, frame.id, frame.payload));
    if (frame.type === MessageType.exit) {
      this.#clients.delete(frame.id);
      client.end();
    }
  }

  /** the VM is gone: every waiting client learns it, and so does every client that comes later (the server stays) */
  closeAll(reason: string): void {
    this.#ended = reason;
    for (const [id, client] of this.#clients) {
      client.end(encodeFrame(MessageType.error, id, Buffer.from(reason)));
    }
    this.#clients.clear();
  }

  #accept(socket: Socket): void {
    if (this.#ended !== undefined) {
      const reason = this.#ended;
      socket.once('data', () => socket.end(encodeFrame(MessageType.error, 1, Buffer.from(reason))));
      socket.on('error', () => undefined);
      return;
    }
    const reader = new FrameReader();
    let id: number | undefined;
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (id === undefined) {
          if (frame.type !== MessageType.exec) return void socket.destroy();
          id = this.#nextId++;
          this.#clients.set(id, socket);
          try {
            const req = JSON.parse(frame.payload.toString('utf8')) as SessionExecRequest;
            if (req.detach) this.#detached.add(id);
            this.toGuest(req.dmesg ? encodeFrame(MessageType.dmesg, id) : encodeExec(id, this.toExec(req)));
          } catch (error) {
            this.#clients.delete(id);
            socket.end(encodeFrame(MessageType.error, id, Buffer.from((error as Error).message)));
          }
          continue;
        }
        // stdin, signals and resizes of this client's command
        this.toGuest(encodeFrame(frame.type, id, frame.payload));
      }
    });
    socket.on('close', () => {
      // a client that went away takes its command with it, unless it was started detached (its output is dropped then)
      if (id !== undefined && this.#clients.delete(id) && !this.#detached.has(id)) this.toGuest(encodeSignal(id, 9));
    });
    socket.on('error', () => undefined);
  }
}

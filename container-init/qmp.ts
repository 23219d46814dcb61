/**
 * A small QMP client: QEMU's JSON monitor on a unix socket. One command at a
 * time in flight is all testin needs (stop, migrate, cont); events are
 * waited for by name.
 */
import { connect, type Socket } from 'node:net';

interface QmpMessage {
  return?: unknown;
  error?: { class: string; desc: string };
  event?: string;
  data?: Record<string, unknown>;
  QMP?: unknown;
}

export class QmpError extends Error {
  override readonly name = 'QmpError';
}

/** QMP's lines: one JSON message per line (pure, for the tests) */
export function splitQmpLines(buffer: string): { messages: QmpMessage[]; rest: string } {
  const messages: QmpMessage[] = [];
  let rest = buffer;
  for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
    const line = rest.slice(0, i).trim();
    rest = rest.slice(i + 1);
    if (line) messages.push(JSON.parse(line) as QmpMessage);
  }
  return { messages, rest };
}

export class Qmp {
  readonly #socket: Socket;
  #buffer = '';
  #pending: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  #eventWaiters: { name: string; match: (data: Record<string, unknown>) => boolean; resolve: (data: Record<string, unknown>) => void }[] = [];
  #closed?: Error;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const { messages, rest } = splitQmpLines(this.#buffer + chunk);
      this.#buffer = rest;
      for (const m of messages) this.#onMessage(m);
    });
    const fail = (): void => {
      this.#closed ??= new QmpError('QEMU closed its monitor');
      for (const p of this.#pending.splice(0)) p.reject(this.#closed);
    };
    socket.on('close', fail);
    socket.on('error', fail);
  }

  /** connects (QEMU makes the socket a moment after it starts: retried until the deadline) and negotiates */
  static async connect(path: string, timeoutMs: number, gone: () => boolean): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const socket = await new Promise<Socket | Error>((resolve) => {
        const s = connect(path);
        s.once('connect', () => resolve(s));
        s.once('error', (e) => resolve(e));
      });
      if (!(socket instanceof Error)) {
        const qmp = new Qmp(socket);
        // the greeting comes first; the pending slot takes it
        await new Promise((resolve, reject) => qmp.#pending.push({ resolve, reject }));
        await qmp.execute('qmp_capabilities');
        return qmp;
      }
      if (Date.now() > deadline || gone()) throw new QmpError(`QEMU's monitor did not answer: ${socket.message}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  #onMessage(m: QmpMessage): void {
    if (m.event) {
      const data = m.data ?? {};
      const i = this.#eventWaiters.findIndex((w) => w.name === m.event && w.match(data));
      if (i >= 0) this.#eventWaiters.splice(i, 1)[0]?.resolve(data);
      return;
    }
    const p = this.#pending.shift();
    if (!p) return;
    if (m.error) p.reject(new QmpError(m.error.desc));
    else p.resolve(m.return ?? m.QMP);
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  /** resolves with the data of the next event of that name that matches */
  event(name: string, match: (data: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.#eventWaiters.push({ name, match, resolve }));
  }

  close(): void {
    this.#socket.destroy();
  }
}

/**
 * A session's side of the contract: what a client asks for, the marker a ready
 * session prints, and the client end of one command over the session socket
 * (used by `container-init --exec` in the container, and by the launcher when it
 * reaches the socket itself).
 */
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { FrameReader, MessageType, Tag, decodeFields, encodeFrame, encodeResize, encodeSignal, fieldNumber, fieldString } from './control-protocol.js';
import { EXIT_TESTIN_FAILED, exitCodeForSignal } from './exit-codes.js';

/** What a session client asks for (JSON in the EXEC frame it sends first). */
export interface SessionExecRequest {
  argv: readonly string[];
  /** instead of a command: the guest kernel's log (argv is then empty) */
  dmesg?: boolean;
  env?: readonly string[] | undefined;
  cwd?: string | undefined;
  user?: string | undefined;
  stdin?: boolean;
  tty?: { rows: number; cols: number } | undefined;
  /** docker exec -d: the client is answered once the command started (0) or could not (its code), and the command runs on without it, its output dropped */
  detach?: boolean | undefined;
}

/** printed on stderr once a session's VM is up and takes commands, followed by ` (accel)` */
export const SESSION_READY = 'testin: session ready';
/** the line a session's container prints when its VM ended without being taken down; the container stays until it is */
export const SESSION_ENDED = 'testin: the VM of this session ended:';

/** One command of a session, over a connection to its session socket. */
export interface SessionExec {
  /** the command's exit code (128+N for signal N; 125 when the session could not run it) */
  code: Promise<number>;
  signal(signo: number): void;
  resize(rows: number, cols: number): void;
}

/**
 * Sends one request on a connection to a session's socket and relays the
 * command's stdout, stderr and exit code; stdin, when given, goes the other way
 * (its end is the command's EOF). Used in the container by `container-init
 * --exec`, and by the launcher itself when it can reach the socket directly.
 */
export function sessionExec(socket: Socket, req: SessionExecRequest, io: { stdout: Writable; stderr: Writable; stdin?: Readable | undefined; onConnect?: () => void }): SessionExec {
  const reader = new FrameReader();
  let code: number | undefined;
  const done = new Promise<number>((resolve) => {
    socket.on('error', (error) => {
      io.stderr.write(`testin: the session is not running: ${error.message}\n`);
      code ??= EXIT_TESTIN_FAILED;
    });
    socket.on('close', () => resolve(code ?? EXIT_TESTIN_FAILED));
  });
  socket.on('connect', () => {
    socket.write(encodeFrame(MessageType.exec, 0, Buffer.from(JSON.stringify(req))));
    // after the request: what onConnect sends (a resize) is about the exec the request starts
    io.onConnect?.();
    if (req.stdin && io.stdin) {
      io.stdin.on('data', (chunk: Buffer) => socket.write(encodeFrame(MessageType.stdin, 0, Buffer.from(chunk))));
      io.stdin.on('end', () => socket.write(encodeFrame(MessageType.stdin, 0)));
    }
  });
  socket.on('data', (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) {
      // a detached command's output is not this client's once it started
      if (code !== undefined && req.detach) continue;
      if (frame.type === MessageType.stdout) io.stdout.write(frame.payload);
      else if (frame.type === MessageType.stderr) io.stderr.write(frame.payload);
      else if (frame.type === MessageType.error) {
        const fields = frame.payload.length > 5 ? safeFields(frame.payload) : undefined;
        io.stderr.write(`testin: ${fields ? (fieldString(fields, Tag.message) ?? '') : frame.payload.toString()}\n`);
        if (fields === undefined) code ??= EXIT_TESTIN_FAILED;
      } else if (frame.type === MessageType.started && req.detach) {
        // detached: started is all the client waits for; the command runs on without this connection
        code = 0;
        socket.end();
      } else if (frame.type === MessageType.exit) {
        const fields = decodeFields(frame.payload);
        const signo = fieldNumber(fields, Tag.signo);
        code = signo !== undefined ? exitCodeForSignal(signo) : (fieldNumber(fields, Tag.code) ?? 0);
      }
    }
  });
  const send = (frame: Buffer): void => {
    if (!socket.destroyed && socket.writable) socket.write(frame);
  };
  return { code: done, signal: (signo) => send(encodeSignal(0, signo)), resize: (rows, cols) => send(encodeResize(0, rows, cols)) };
}

/** an ERROR from the guest carries fields; one from the session server is plain text */
function safeFields(payload: Buffer): Map<number, Buffer[]> | undefined {
  try {
    const fields = decodeFields(payload);
    return fields.has(Tag.message) ? fields : undefined;
  } catch {
    return undefined;
  }
}

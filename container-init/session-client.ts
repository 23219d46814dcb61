import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { FORWARDED_SIGNALS, FrameReader, MessageType, Tag, decodeFields, encodeFrame, encodeResize, encodeSignal, fieldNumber, fieldString } from './control-protocol.js';
import { SESSION_SOCKET, type SessionExecRequest } from './session-server.js';

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
      code ??= 125;
    });
    socket.on('close', () => resolve(code ?? 125));
  });
  socket.on('connect', () => {
    io.onConnect?.();
    socket.write(encodeFrame(MessageType.exec, 0, Buffer.from(JSON.stringify(req))));
    if (req.stdin && io.stdin) {
      io.stdin.on('data', (chunk: Buffer) => socket.write(encodeFrame(MessageType.stdin, 0, Buffer.from(chunk))));
      io.stdin.on('end', () => socket.write(encodeFrame(MessageType.stdin, 0)));
    }
  });
  socket.on('data', (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) {
      if (frame.type === MessageType.stdout) io.stdout.write(frame.payload);
      else if (frame.type === MessageType.stderr) io.stderr.write(frame.payload);
      else if (frame.type === MessageType.error) {
        const fields = frame.payload.length > 5 ? safeFields(frame.payload) : undefined;
        io.stderr.write(`testin: ${fields ? (fieldString(fields, Tag.message) ?? '') : frame.payload.toString()}\n`);
        if (fields === undefined) code ??= 125;
      } else if (frame.type === MessageType.exit) {
        const fields = decodeFields(frame.payload);
        const signo = fieldNumber(fields, Tag.signo);
        code = signo !== undefined ? 128 + signo : (fieldNumber(fields, Tag.code) ?? 0);
      }
    }
  });
  const send = (frame: Buffer): void => {
    if (!socket.destroyed && socket.writable) socket.write(frame);
  };
  return { code: done, signal: (signo) => send(encodeSignal(0, signo)), resize: (rows, cols) => send(encodeResize(0, rows, cols)) };
}

/**
 * `container-init --exec` (run by `docker exec` in a session's container):
 * one command in the session's VM, with this process's stdio, signals and exit code.
 */
export function runSessionClient(workDir: string, busybox: string, req: SessionExecRequest): Promise<number> {
  const exec = sessionExec(connect(join(workDir, SESSION_SOCKET)), req, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: req.stdin ? process.stdin : undefined,
    onConnect: () => {
      if (req.tty && process.stdin.isTTY) spawnSync(busybox, ['stty', 'raw', '-echo'], { stdio: ['inherit', 'ignore', 'ignore'] });
      if (req.tty && process.stdout.isTTY) process.stdout.on('resize', () => exec.resize(process.stdout.rows, process.stdout.columns));
      for (const [name, signo] of Object.entries(FORWARDED_SIGNALS)) process.on(name, () => exec.signal(signo));
    },
  });
  return exec.code;
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

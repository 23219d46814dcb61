import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { FORWARDED_SIGNALS, FrameReader, MessageType, Tag, decodeFields, encodeFrame, encodeResize, encodeSignal, fieldNumber, fieldString } from './control-protocol.js';
import { SESSION_SOCKET, type SessionExecRequest } from './session-server.js';

/**
 * `container-init --exec` (run by `docker exec` in a session's container):
 * one command in the session's VM, with this process's stdio, signals and exit code.
 */
export function runSessionClient(workDir: string, busybox: string, req: SessionExecRequest): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(join(workDir, SESSION_SOCKET));
    const reader = new FrameReader();
    let code: number | undefined;
    socket.on('error', (error) => {
      process.stderr.write(`testin: the session is not running: ${error.message}\n`);
      resolve(125);
    });
    socket.on('connect', () => {
      if (req.tty && process.stdin.isTTY) spawnSync(busybox, ['stty', 'raw', '-echo'], { stdio: ['inherit', 'ignore', 'ignore'] });
      socket.write(encodeFrame(MessageType.exec, 0, Buffer.from(JSON.stringify(req))));
      if (req.stdin) {
        process.stdin.on('data', (chunk: Buffer) => socket.write(encodeFrame(MessageType.stdin, 0, chunk)));
        process.stdin.on('end', () => socket.write(encodeFrame(MessageType.stdin, 0)));
      }
      if (req.tty && process.stdout.isTTY) {
        process.stdout.on('resize', () => socket.write(encodeResize(0, process.stdout.rows, process.stdout.columns)));
      }
      for (const [name, signo] of Object.entries(FORWARDED_SIGNALS)) process.on(name, () => socket.write(encodeSignal(0, signo)));
    });
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (frame.type === MessageType.stdout) process.stdout.write(frame.payload);
        else if (frame.type === MessageType.stderr) process.stderr.write(frame.payload);
        else if (frame.type === MessageType.error) {
          const fields = frame.payload.length > 5 ? safeFields(frame.payload) : undefined;
          process.stderr.write(`testin: ${fields ? (fieldString(fields, Tag.message) ?? '') : frame.payload.toString()}\n`);
          if (fields === undefined) code ??= 125;
        } else if (frame.type === MessageType.exit) {
          const fields = decodeFields(frame.payload);
          const signo = fieldNumber(fields, Tag.signo);
          code = signo !== undefined ? 128 + signo : (fieldNumber(fields, Tag.code) ?? 0);
        }
      }
    });
    socket.on('close', () => resolve(code ?? 125));
  });
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

/** container-init's own stdio to and from the command in the VM: stdin, the terminal, the console. */
import { spawnSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { MessageType, encodeFrame, encodeResize } from '../contract/control-protocol.js';
import { followFile } from './follow-file.js';

/**
 * With a tty, docker's pty in the container is made fully raw (libuv's raw
 * mode keeps ONLCR, which would add a CR to every line the guest's pty has
 * already translated), and its size follows to the VM.
 */
export function wireTerminal(busybox: string, socket: () => Socket | undefined): void {
  if (process.stdin.isTTY) spawnSync(busybox, ['stty', 'raw', '-echo'], { stdio: ['inherit', 'ignore', 'ignore'] });
  if (!process.stdout.isTTY) return;
  const resize = (): void => void socket()?.write(encodeResize(0, process.stdout.rows, process.stdout.columns));
  process.stdout.on('resize', resize);
  // the size now, once: the client's first resize may have landed after the command's request was made (its size in it)
  // and before this listener (a busy engine), and no later one would come; the same size again changes nothing in the guest
  if (process.stdout.rows && process.stdout.columns) resize();
}

/** stdin to the command; its end is the command's EOF (an empty STDIN frame) */
export function pipeStdin(socket: () => Socket | undefined): void {
  process.stdin.on('data', (chunk: Buffer) => socket()?.write(encodeFrame(MessageType.stdin, 0, chunk)));
  process.stdin.on('end', () => socket()?.write(encodeFrame(MessageType.stdin, 0)));
}

/** --console: what the guest kernel prints goes to stderr as it comes; returns how to stop */
export function streamConsole(path: string, out: NodeJS.WriteStream = process.stderr): () => void {
  return followFile(path, 100, (chunk) => void out.write(Buffer.from(chunk)));
}

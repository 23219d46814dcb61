import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { FORWARDED_SIGNALS } from '../contract/control-protocol.js';
import { sessionExec, type SessionExecRequest } from '../contract/session-protocol.js';

/**
 * `container-init --exec` (run by `docker exec` in a session's container):
 * one command in the session's VM, with this process's stdio, signals and exit code.
 */
export async function runSessionClient(socketPath: string, busybox: string, req: SessionExecRequest): Promise<number> {
  await socketReady(socketPath);
  const exec = sessionExec(connect(socketPath), req, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: req.stdin ? process.stdin : undefined,
    onConnect: () => {
      if (req.tty && process.stdin.isTTY) spawnSync(busybox, ['stty', 'raw', '-echo'], { stdio: ['inherit', 'ignore', 'ignore'] });
      if (req.tty && process.stdout.isTTY) {
        const resize = (): void => {
          if (process.stdout.rows && process.stdout.columns) exec.resize(process.stdout.rows, process.stdout.columns);
        };
        // the terminal's size now: docker exec sets it after the process started (testin-runtime's spec has none), maybe before this listened
        process.stdout.on('resize', resize);
        resize();
      }
      for (const [name, signo] of Object.entries(FORWARDED_SIGNALS)) process.on(name, () => exec.signal(signo));
    },
  });
  return exec.code;
}

/** how long an exec that comes while the VM is still starting waits for its socket (a cold boot under TCG, a slow engine) */
const SOCKET_WAIT_MS = 120_000;

/** An exec that comes before the VM is up (testin-runtime: docker exec right after docker run -d) waits for its socket. */
async function socketReady(path: string): Promise<void> {
  const deadline = Date.now() + SOCKET_WAIT_MS;
  while (!existsSync(path) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

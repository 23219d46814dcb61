import { execa, type ResultPromise } from 'execa';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { TESTIN_BIN } from './paths.js';

export interface TestinResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real CLI (`node dist/launcher/bin.js ...`) and collects what it printed. */
export async function testin(args: readonly string[], options: { input?: string | Buffer; signal?: AbortSignal; env?: Record<string, string> } = {}): Promise<TestinResult> {
  const engine = options.env?.DOCKER_HOST ?? LOCAL_ENGINE;
  if (silentEngines.has(engine)) throw new Error(`testin ${args.join(' ')}: ${engine} stopped answering earlier in this file`);
  const child = execa('node', [TESTIN_BIN, ...args], {
    reject: false,
    encoding: 'buffer',
    stripFinalNewline: false,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    env: options.env,
  });
  // a hang must fail this call, with what testin printed and what its runs' containers held at that moment, not the whole test file
  let hung: string | undefined;
  const deadline = setTimeout(() => {
    void runsNow(options.env?.DOCKER_HOST).then((state) => {
      hung = state;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
    });
  }, RUN_DEADLINE_MS);
  const result = await child.finally(() => clearTimeout(deadline));
  const stderr = Buffer.from(result.stderr).toString('utf8');
  if (hung !== undefined) throw new Error(`testin ${args.join(' ')} hung for ${RUN_DEADLINE_MS / 1000} s; it printed:\n${stderr}\nthe runs' containers then:\n${hung}`);
  return { exitCode: result.exitCode ?? -1, stdout: Buffer.from(result.stdout), stderr };
}

/** the runs' containers on the engine the run used: their processes (state, CPU time, where each waits in the kernel) and their logs' last lines */
async function runsNow(host: string | undefined): Promise<string> {
  try {
    const ids = (await docker(['ps', '-q', '--filter', 'label=testin.run'], host)).stdout.split('\n').filter(Boolean);
    const parts = await Promise.all(
      ids.map(async (id) => {
        const top = await docker(['top', id, '-o', 'pid,stat,time,wchan:24,args'], host);
        const logs = await docker(['logs', '--tail', '15', id], host);
        return `${id}:\n${top.stdout.split('\n').map((l) => `  ${l.slice(0, 200)}`).join('\n')}\n  logs:\n${logs.all.split('\n').map((l) => `  | ${l}`).join('\n')}`;
      }),
    );
    return parts.join('\n') || '(none)';
  } catch (err) {
    return (err as Error).message;
  }
}

/** no engine call of these tests may take longer: a hung engine fails the test, not the whole run */
const ENGINE_DEADLINE_MS = 60_000;
const silentEngines = new Set<string>();
const LOCAL_ENGINE = 'the local engine';

/**
 * The docker CLI on the local engine or HOST. An engine that does not answer within
 * ENGINE_DEADLINE_MS fails the call, and every later call to it at once (rootless Podman 4's
 * service has been seen to stop answering, with its slirp4netns left as zombies).
 */
export async function docker(args: readonly string[], host?: string): Promise<{ exitCode: number; stdout: string; stderr: string; all: string }> {
  const engine = host ?? LOCAL_ENGINE;
  if (silentEngines.has(engine)) throw new Error(`docker ${args.join(' ')}: ${engine} stopped answering earlier in this file`);
  const r = await execa('docker', [...(host ? ['-H', host] : []), ...args], { reject: false, all: true, timeout: ENGINE_DEADLINE_MS });
  if (r.timedOut) {
    silentEngines.add(engine);
    throw new Error(`docker ${args.join(' ')}: ${engine} did not answer within ${ENGINE_DEADLINE_MS / 1000} s`);
  }
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, all: r.all ?? '' };
}

/** no single testin run in these tests may take longer (TCG boots take seconds) */
const RUN_DEADLINE_MS = 90_000;

/**
 * What a run may leave behind by mistake: containers, helper containers and scratch volumes (on the
 * local engine, or the one `dockerHost` names), VMM or virtiofsd processes, temp dirs.
 */
export async function leftovers(dockerHost?: string): Promise<string[]> {
  const found: string[] = [];
  for (const label of ['testin.run', 'testin.helper']) {
    const ps = await docker(['ps', '-aq', '--filter', `label=${label}`], dockerHost);
    if (ps.exitCode !== 0) throw new Error(`docker ps: ${ps.stderr}`);
    if (ps.stdout.trim()) found.push(`containers labelled ${label}: ${ps.stdout.trim().replace(/\n/g, ' ')}`);
  }
  const scratch = await docker(['volume', 'ls', '-q', '--filter', 'label=testin.helper'], dockerHost);
  if (scratch.exitCode !== 0) throw new Error(`docker volume ls: ${scratch.stderr}`);
  if (scratch.stdout.trim()) found.push(`volumes labelled testin.helper: ${scratch.stdout.trim().replace(/\n/g, ' ')}`);
  const procs = await execa('pgrep', ['-af', 'testin/toolbox/bin/(qemu-system|virtiofsd|passt)'], { reject: false });
  if (procs.stdout.trim()) found.push(`processes: ${procs.stdout.trim()}`);
  const temp = safeList(tmpdir()).filter((f) => /^testin-(report|tar|marker|helper)-/.test(f));
  if (temp.length) found.push(`temp dirs: ${temp.join(' ')}`);
  return found;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** what a run wrote on stderr but testin's own notice lines (TCG, a snapshot saved) */
export function withoutNotices(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !line.startsWith('testin: '))
    .join('\n');
}

/** testin's own notice lines (TCG) are fine on stderr; kernel console lines never are. */
export const KERNEL_LINE = /^\[\s*\d+\.\d+\]|Linux version|virtio|Kernel command line/m;

/**
 * Starts the CLI and calls `onMarker` once `marker` appeared on its stdout or stderr (a test hook's
 * `testin-hook <moment>`, a command's `ready`); collects the result, and when the marker came.
 */
export async function testinWhen(
  args: readonly string[],
  marker: string,
  onMarker: (child: ResultPromise) => void,
  env: Record<string, string> = {},
): Promise<TestinResult & { markedAt: number; endedAt: number }> {
  const child = execa('node', [TESTIN_BIN, ...args], { reject: false, encoding: 'buffer', stdin: 'ignore', stripFinalNewline: false, env, timeout: RUN_DEADLINE_MS });
  let seen = '';
  let markedAt = 0;
  const watch = (chunk: Buffer): void => {
    seen += chunk.toString();
    if (!markedAt && seen.includes(marker)) {
      markedAt = Date.now();
      onMarker(child);
    }
  };
  child.stdout?.on('data', watch);
  child.stderr?.on('data', watch);
  const result = await child;
  return { exitCode: result.exitCode ?? -1, stdout: Buffer.from(result.stdout), stderr: Buffer.from(result.stderr).toString(), markedAt, endedAt: Date.now() };
}

/** Starts the CLI and calls `onReady` once the command has printed `ready`; collects the result. */
export async function testinWhenReady(args: readonly string[], onReady: (child: ResultPromise) => void): Promise<TestinResult & { ms: number }> {
  const started = Date.now();
  const child = execa('node', [TESTIN_BIN, ...args], { reject: false, encoding: 'buffer', stdin: 'ignore', stripFinalNewline: false });
  let seen = '';
  let done = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    if (!done && seen.includes('ready')) {
      done = true;
      onReady(child);
    }
  });
  const result = await child;
  return { exitCode: result.exitCode ?? -1, stdout: Buffer.from(result.stdout), stderr: Buffer.from(result.stderr).toString(), ms: Date.now() - started };
}

/** Starts the CLI and sends `signal` once the command has printed `ready`. */
export function testinSignalledWhenReady(args: readonly string[], signal: NodeJS.Signals): Promise<TestinResult & { ms: number }> {
  return testinWhenReady(args, (child) => child.kill(signal));
}

let toolboxHash: string | undefined;
/** the hash of the toolbox this checkout's testin uses (built by the global set-up; `toolbox build` finds it in a few ms) */
export async function currentToolboxHash(): Promise<string> {
  if (toolboxHash) return toolboxHash;
  const built = await execa('node', [TESTIN_BIN, 'toolbox', 'build']);
  const hash = /^toolbox ([0-9a-f]{64})$/m.exec(built.stdout)?.[1];
  if (!hash) throw new Error(`testin toolbox build named no toolbox:\n${built.stdout}`);
  return (toolboxHash = hash);
}

/** the snapshots volume of this checkout's toolbox (an engine may hold other toolboxes' too) */
export async function snapshotVolume(): Promise<string> {
  return `testin-snapshots-${(await currentToolboxHash()).slice(0, 16)}`;
}

/** whether this machine (the local engine's host) offers KVM a run would use: vmx/svm in the CPU and a /dev/kvm that opens */
export function hostHasKvm(): boolean {
  try {
    if (!/\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'))) return false;
    closeSync(openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/** a stream for a command's stdout: `ready` resolves once the command printed `marker` on a line (its trap is set, it started) */
export function readyStream(marker = 'ready'): { stream: PassThrough; ready: Promise<void>; text: () => string } {
  const stream = new PassThrough();
  let seen = '';
  const ready = new Promise<void>((resolve) => {
    stream.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(`${marker}\n`)) resolve();
    });
  });
  return { stream, ready, text: () => seen };
}

/** polls `check` every 100 ms until it is true or `ms` passed; resolves with whether it became true */
export async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

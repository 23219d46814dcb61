/**
 * --boot: the image's own init (systemd) is PID 1 in the VM and testin's agent
 * serves beside it. Before the command runs, the system must have started:
 * `systemctl is-system-running --wait` in the VM says running or degraded
 * (then the failed units are named), within the boot's deadline.
 */
import { MessageType, Tag, decodeFields, encodeExec, fieldNumber, type ExecRequest, type Frame } from '../contract/control-protocol.js';
import { DEFAULT_PATH } from '../contract/run-plan.js';

/** the command ids of container-init's own questions to the image's init */
export const BOOT_WAIT_ID = 0xfffffffe;
export const BOOT_UNITS_ID = 0xfffffffd;

/** how a boot through the image's init went */
export type SystemState =
  | { kind: 'up'; state: 'running' | 'degraded' | 'no-systemd'; failedUnits: string[] }
  | { kind: 'failed'; reason: string };

const question = (argv: string[]): ExecRequest => ({ argv, env: [`PATH=${DEFAULT_PATH}`], cwd: '/', uid: 0, gid: 0, groups: [], stdin: false, tmpfs: [] });

/** the failed units in `systemctl --failed --no-legend --plain` output */
export function parseFailedUnits(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((u) => /\.[a-z]+$/.test(u));
}

/** the state `is-system-running` printed: its last line */
const stateOf = (output: string): string => output.trim().split('\n').at(-1)?.trim() ?? '';

/** what `is-system-running --wait` printed and its exit code, as a state */
export function judgeSystemState(output: string, code: number, failedUnits: string[]): SystemState {
  const state = stateOf(output);
  // no systemctl in the image: an init that is not systemd, nothing to wait for
  if (code === 127) return { kind: 'up', state: 'no-systemd', failedUnits: [] };
  if (state === 'running' || state === 'degraded') return { kind: 'up', state, failedUnits };
  const units = failedUnits.length ? `; failed units: ${failedUnits.join(', ')}` : '';
  return { kind: 'failed', reason: `the image's init did not start the system: systemctl is-system-running says "${state || `nothing (exit ${code})`}"${units}` };
}

/** Asks the image's init, over the control port, whether the system has started. */
export class SystemWait {
  #out: Record<number, Buffer[]> = { [BOOT_WAIT_ID]: [], [BOOT_UNITS_ID]: [] };
  #err: Buffer[] = [];
  #resolve?: (s: SystemState) => void;

  constructor(private readonly send: (frame: Buffer) => void) {}

  /** resolves when the system has started (or failed to); the caller bounds it with the boot's deadline */
  wait(): Promise<SystemState> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#askState();
    });
  }

  #askState(): void {
    this.#out[BOOT_WAIT_ID] = [];
    this.send(encodeExec(BOOT_WAIT_ID, question(['systemctl', 'is-system-running', '--wait'])));
  }

  /** the units that failed so far (for a deadline's error) */
  failedSoFar(): Promise<string[]> {
    return new Promise((resolve) => {
      this.#units = resolve;
      this.#out[BOOT_UNITS_ID] = [];
      this.send(encodeExec(BOOT_UNITS_ID, question(['systemctl', '--failed', '--no-legend', '--plain', '--no-pager'])));
    });
  }

  #units?: (units: string[]) => void;

  /** true when the frame was one of ours */
  take(frame: Frame): boolean {
    if (frame.id !== BOOT_WAIT_ID && frame.id !== BOOT_UNITS_ID) return false;
    if (frame.type === MessageType.stdout) this.#out[frame.id]?.push(frame.payload);
    if (frame.type === MessageType.stderr && frame.id === BOOT_WAIT_ID) this.#err.push(frame.payload);
    if (frame.type !== MessageType.exit) return true;
    const code = fieldNumber(decodeFields(frame.payload), Tag.code) ?? 0;
    const text = Buffer.concat(this.#out[frame.id] ?? []).toString('utf8');
    if (frame.id === BOOT_UNITS_ID) {
      const units = parseFailedUnits(text);
      this.#units?.(units);
      this.#units = undefined;
      return true;
    }
    const state = stateOf(text);
    const said = Buffer.concat(this.#err).toString('utf8').trim();
    this.#err = [];
    // asked before the image's init listens on its socket (no state, or "offline"): ask again (the caller's deadline bounds it)
    if (state === 'offline' || (state === '' && code !== 127 && /connect|bus|not been booted|No such file/i.test(said))) {
      setTimeout(() => this.#askState(), 100);
      return true;
    }
    // degraded or stuck: name the failed units; running: nothing to ask
    if (state === 'running' || code === 127) this.#resolve?.(judgeSystemState(text, code, []));
    else void this.failedSoFar().then((units) => this.#resolve?.(judgeSystemState(text || said, code, units)));
    return true;
  }
}

/**
 * Every way a run can be asked to stop (Ctrl-C, SIGTERM, SIGHUP of this
 * process, an AbortSignal), taken from the first moment of the run. Before the
 * container starts, a stop aborts the set-up (`signal`) and the run ends with
 * 128+N and nothing left; while the container starts, it is held and given to
 * the container as soon as it runs; after that it goes straight through.
 */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export type StopHandler = (signal: NodeJS.Signals, count: number) => void;

export class RunStopper {
  readonly #abort = new AbortController();
  readonly #listeners = new Map<NodeJS.Signals, () => void>();
  readonly #external?: AbortSignal | undefined;
  #first?: NodeJS.Signals;
  #count = 0;
  #handler?: StopHandler;
  #running = false;
  #held: NodeJS.Signals[] = [];

  constructor(options: { signal?: AbortSignal | undefined; processSignals: boolean }) {
    this.#external = options.signal;
    if (options.signal?.aborted) this.#stop('SIGTERM');
    options.signal?.addEventListener('abort', this.#onAbort);
    if (options.processSignals) {
      for (const sig of FORWARDED) {
        const listener = (): void => this.#stop(sig);
        this.#listeners.set(sig, listener);
        process.on(sig, listener);
      }
    }
  }

  /** aborted at the first stop */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** the first signal asked for, if any */
  get stopped(): NodeJS.Signals | undefined {
    return this.#first;
  }

  /** how the container is stopped once it exists */
  onStop(handler: StopHandler): void {
    this.#handler = handler;
  }

  /** the container runs: stops held while it was starting are given to it now */
  started(): void {
    this.#running = true;
    for (const [i, sig] of this.#held.splice(0).entries()) this.#handler?.(sig, i + 1);
  }

  close(): void {
    this.#external?.removeEventListener('abort', this.#onAbort);
    for (const [sig, listener] of this.#listeners) process.off(sig, listener);
    this.#listeners.clear();
  }

  readonly #onAbort = (): void => this.#stop('SIGTERM');

  #stop(sig: NodeJS.Signals): void {
    this.#count += 1;
    this.#first ??= sig;
    this.#abort.abort();
    if (this.#running) this.#handler?.(sig, this.#count);
    else this.#held.push(sig);
  }
}

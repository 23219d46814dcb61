import type { Writable } from 'node:stream';
import type { BuildEvent, BuildStage } from '../contract/build-events.js';

const STAGES: Record<BuildStage, string> = {
  base: 'base image',
  index: 'package index',
  download: 'downloading packages',
  install: 'installing packages',
  kernel: 'kernel',
  assemble: 'assembling the toolbox',
  fill: 'filling the volumes',
};
const ORDER = Object.keys(STAGES) as BuildStage[];
/** without a terminal, a long stage still says something this often */
const HEARTBEAT_MS = 15_000;

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** "downloading packages: 45 of 91, 60.2 of 194.0 MB (qemu-system-x86)" */
export function describeProgress(event: Extract<BuildEvent, { kind: 'progress' }>): string {
  const bytes = event.totalBytes ? `, ${mb(event.bytes ?? 0)} of ${mb(event.totalBytes)}` : event.bytes ? `, ${mb(event.bytes)}` : '';
  const count = event.total ? `${event.done} of ${event.total}` : `${event.done}`;
  return `${STAGES[event.stage]}: ${count}${bytes}${event.item ? ` (${event.item})` : ''}`;
}

/**
 * The first build's progress, as `docker pull` shows it: on a terminal one
 * line per stage, updated in place; without one, a line per stage (and one
 * every 15 s while a long stage goes on), so a build never looks hung.
 */
export class BuildProgress {
  #current?: BuildStage;
  #line = '';
  #lastPrinted = 0;
  readonly #started: number;
  readonly #out: Writable;
  readonly #tty: boolean;
  readonly #now: () => number;

  constructor(out: Writable, tty: boolean, now: () => number = Date.now) {
    this.#out = out;
    this.#tty = tty;
    this.#now = now;
    this.#started = now();
  }

  begin(base: string): void {
    this.#out.write(`testin: building the toolbox from ${base} on the engine (once per engine and testin version)\n`);
  }

  on(event: BuildEvent): void {
    if (event.kind === 'stage') this.#stage(event.stage, event.detail);
    else if (event.kind === 'progress') this.#update(describeProgress(event));
  }

  #stage(stage: BuildStage, detail?: string): void {
    this.#endLine();
    this.#current = stage;
    const n = ORDER.indexOf(stage) + 1;
    this.#line = `testin: [${n}/${ORDER.length}] ${STAGES[stage]}${detail ? `: ${detail}` : ''}`;
    if (this.#tty) this.#out.write(this.#line);
    else this.#out.write(`${this.#line}\n`);
    this.#lastPrinted = this.#now();
  }

  #update(text: string): void {
    const n = this.#current ? ORDER.indexOf(this.#current) + 1 : 0;
    const line = `testin: [${n}/${ORDER.length}] ${text}`;
    if (this.#tty) {
      this.#out.write(`\r\x1b[2K${line}`);
      this.#line = line;
    } else if (this.#now() - this.#lastPrinted >= HEARTBEAT_MS) {
      this.#out.write(`${line}\n`);
      this.#lastPrinted = this.#now();
    }
  }

  #endLine(): void {
    if (this.#tty && this.#current) this.#out.write('\n');
    this.#current = undefined;
  }

  finish(summary: string): void {
    this.#endLine();
    this.#out.write(`testin: ${summary} (${((this.#now() - this.#started) / 1000).toFixed(1)} s)\n`);
  }

  abort(): void {
    this.#endLine();
  }
}

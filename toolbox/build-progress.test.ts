import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BuildProgress, describeProgress } from './build-progress.js';

function capture(tty: boolean, clock: { t: number }): { progress: BuildProgress; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  return { progress: new BuildProgress(out, tty, () => clock.t), text: () => text };
}

describe('the first build shows progress', () => {
  it('says how far a stage is: items, and bytes when known', () => {
    expect(describeProgress({ kind: 'progress', stage: 'download', done: 45, total: 91, bytes: 60_200_000, totalBytes: 194_000_000, item: 'qemu-system-x86' })).toBe(
      'downloading packages: 45 of 91, 60.2 MB of 194.0 MB (qemu-system-x86)',
    );
    expect(describeProgress({ kind: 'progress', stage: 'install', done: 3, total: 90 })).toBe('installing packages: 3 of 90');
  });

  it('without a terminal: a line per stage, and one more only every 15 s of a long stage', () => {
    const clock = { t: 0 };
    const { progress, text } = capture(false, clock);
    progress.begin('debian:trixie-slim');
    progress.on({ kind: 'stage', stage: 'download', detail: 'qemu' });
    progress.on({ kind: 'progress', stage: 'download', done: 1, total: 9 });
    clock.t = 16_000;
    progress.on({ kind: 'progress', stage: 'download', done: 5, total: 9 });
    progress.on({ kind: 'progress', stage: 'download', done: 6, total: 9 });
    progress.on({ kind: 'stage', stage: 'install' });
    clock.t = 20_000;
    progress.finish('toolbox ready');
    expect(text().split('\n')).toEqual([
      'testin: building the toolbox from debian:trixie-slim on the engine (once per engine and testin version)',
      'testin: [3/7] downloading packages: qemu',
      'testin: [3/7] downloading packages: 5 of 9',
      'testin: [4/7] installing packages',
      'testin: toolbox ready (20.0 s)',
      '',
    ]);
  });

  it('on a terminal: one line per stage, rewritten in place', () => {
    const clock = { t: 0 };
    const { progress, text } = capture(true, clock);
    progress.on({ kind: 'stage', stage: 'download' });
    progress.on({ kind: 'progress', stage: 'download', done: 1, total: 2 });
    progress.on({ kind: 'progress', stage: 'download', done: 2, total: 2 });
    progress.on({ kind: 'stage', stage: 'install' });
    expect(text()).toBe(
      'testin: [3/7] downloading packages\r\x1b[2Ktestin: [3/7] downloading packages: 1 of 2\r\x1b[2Ktestin: [3/7] downloading packages: 2 of 2\ntestin: [4/7] installing packages',
    );
  });
});

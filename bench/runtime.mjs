#!/usr/bin/env node
// bench/runtime: testin-runtime (the OCI runtime) side by side with runc and testin run, in one run.
//   (a) docker run --rm IMG true, runc
//   (b) the same through testin-runtime with the VM turned off (-e TESTIN_VM=0): the runtime's own
//       cost per container life cycle (create, start, state, kill, delete each start the runtime
//       and then runc), the difference to (a)
//   (c) docker run --rm --runtime testin IMG true: the command in a VM
//   (d) testin run IMG true: the same VM through testin's CLI
//   (c-) with --before NAME: (c) through another runtime of the engine, e.g. an older build's
//        (`testin runtime configure --name NAME --dir DIR` run by that build), side by side in the same rounds
// Needs `testin runtime configure` and a reloaded dockerd (the runtime named "testin").
// Usage: node bench/runtime.mjs [--rounds 7] [--before NAME]
import { execFileSync } from 'node:child_process';
import { fixture, median, option, testin } from './common.mjs';

const rounds = Number(option('--rounds', '7'));
const before = option('--before', '');
const image = 'testin-test/busybox:1';
fixture('busybox', image);
const runtimes = JSON.parse(execFileSync('docker', ['info', '--format', '{{json .Runtimes}}'], { encoding: 'utf8' }));
for (const name of ['testin', ...(before ? [before] : [])]) {
  if (runtimes[name]) continue;
  console.error(`bench/runtime: dockerd has no runtime "${name}": run testin runtime configure${name === 'testin' ? '' : ` --name ${name}`}, then reload dockerd (kill -HUP $(pidof dockerd))`);
  process.exit(1);
}

const time = (file, args) => {
  const t0 = process.hrtime.bigint();
  execFileSync(file, args, { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const cases = [
  ['(a) docker run --rm (runc)', () => time('docker', ['run', '--rm', image, 'true'])],
  ['(b) docker run --rm --runtime testin, no VM', () => time('docker', ['run', '--rm', '--runtime', 'testin', '-e', 'TESTIN_VM=0', image, 'true'])],
  ['(c) docker run --rm --runtime testin (VM)', () => time('docker', ['run', '--rm', '--runtime', 'testin', image, 'true'])],
  ['(d) testin run (VM)', () => time('node', [testin, 'run', image, 'true'])],
  ...(before ? [[`(c-) (c) through runtime ${before}`, () => time('docker', ['run', '--rm', '--runtime', before, image, 'true'])]] : []),
];
// one of each first: images, toolbox, snapshot and page cache warm
for (const [, run] of cases) run();
const results = cases.map(() => []);
for (let i = 0; i < rounds; i++) {
  cases.forEach(([, run], c) => {
    results[c].push(run());
  });
}

console.log(`\nruntime benchmark: ${rounds} rounds each, interleaved, ${new Date().toISOString()}`);
console.log(`${'case'.padEnd(46)}  ${'min ms'.padStart(8)}  ${'median ms'.padStart(9)}  ${'x (a)'.padStart(6)}`);
const base = median(results[0]);
cases.forEach(([name], c) => {
  const m = median(results[c]);
  console.log(`${name.padEnd(46)}  ${Math.min(...results[c]).toFixed(0).padStart(8)}  ${m.toFixed(0).padStart(9)}  ${(m / base).toFixed(2).padStart(6)}`);
});
console.log(`${'the runtime\'s own cost per life cycle (b - a)'.padEnd(46)}  ${''.padStart(8)}  ${(median(results[1]) - base).toFixed(0).padStart(9)}`);

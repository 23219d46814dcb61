#!/usr/bin/env node
// bench/exec: a command in a running VM (machine.exec) against a whole `testin run`, in one run.
//   exec goes straight to the session socket when the engine is local (the default here), or
//   through `docker exec container-init --exec` (TESTIN_SESSION_VIA=docker-exec, a remote engine).
// Usage: node bench/exec.mjs [--rounds 10]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fixture, median, option, root } from './common.mjs';

const rounds = Number(option('--rounds', '10'));
const image = 'testin-test/busybox:1';
fixture('busybox', image);
const { start, attachSession } = await import(join(root, 'dist/launcher/index.js'));

const time = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

const vm = await start({ image });
// a machine chooses its way at its first exec
process.env.TESTIN_SESSION_VIA = 'docker-exec';
const viaDocker = await attachSession(vm.name);
await viaDocker.exec(['true']);
delete process.env.TESTIN_SESSION_VIA;
const execs = [];
const dockerExecs = [];
const runs = [];
try {
  for (let i = 0; i < rounds; i++) {
    execs.push(await time(() => vm.exec(['true'])));
    dockerExecs.push(await time(() => viaDocker.exec(['true'])));
    runs.push(await time(async () => execFileSync('node', [join(root, 'dist/launcher/bin.js'), 'run', '--image', image, '--', 'true'], { stdio: 'ignore' })));
  }
} finally {
  await vm.stop();
}
console.log(`\nexec benchmark: ${rounds} rounds each, ${new Date().toISOString()}`);
console.log(`${'case'.padEnd(40)}  ${'min ms'.padStart(8)}  ${'median ms'.padStart(9)}`);
for (const [name, xs] of [["machine.exec(['true']), session socket", execs], ["machine.exec(['true']), docker exec", dockerExecs], ['testin run --image IMG -- true', runs]]) {
  console.log(`${name.padEnd(40)}  ${Math.min(...xs).toFixed(0).padStart(8)}  ${median(xs).toFixed(0).padStart(9)}`);
}
console.log(`ratio run/exec, medians: ${(median(runs) / median(execs)).toFixed(1)} (socket), ${(median(runs) / median(dockerExecs)).toFixed(1)} (docker exec)`);

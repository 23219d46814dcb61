#!/usr/bin/env node
// bench/mem: the host memory one VM costs, against a plain container, side by side in one run:
//   (a) a plain container running `sleep`, (b) a testin session (an idle VM, default 1 GiB),
//   (c) the same VM after a workload (100 execs, reading 2,000 files of /usr).
// Memory is the container's cgroup usage (docker stats: what the host gives the container,
// QEMU's guest RAM and TCG code cache included) and the RSS of each process in it.
// Usage: node bench/mem.mjs [--rounds 3]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fixture, median, option, root } from './common.mjs';

const rounds = Number(option('--rounds', '3'));
const image = 'testin-test/debian:12';
fixture('debian', image);
const { start } = await import(join(root, 'dist/launcher/index.js'));

const UNITS = { B: 1 / 1048576, KiB: 1 / 1024, MiB: 1, GiB: 1024 };
/** the container's memory use in MiB (docker stats: cgroup usage less inactive file cache) */
function usedMiB(name) {
  const text = execFileSync('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', name], { encoding: 'utf8' });
  const m = /^([\d.]+)(B|KiB|MiB|GiB)/.exec(text.trim());
  if (!m) throw new Error(`no memory figure in: ${text}`);
  return Number(m[1]) * UNITS[m[2]];
}
/** RSS in MiB of each process of the container, by the binary's name */
function rssByProcess(name) {
  const lines = execFileSync('docker', ['top', name, '-o', 'pid,rss,args'], { encoding: 'utf8' }).trim().split('\n').slice(1);
  const by = {};
  for (const line of lines) {
    const [, rss, ...argv] = line.trim().split(/\s+/);
    const bin = (argv.find((a) => a.startsWith('/testin/bin/')) ?? argv[0] ?? '?').split('/').at(-1);
    by[bin] = (by[bin] ?? 0) + Number(rss) / 1024;
  }
  return by;
}

const samples = { container: [], idle: [], busy: [] };
const breakdown = [];
for (let r = 0; r < rounds; r++) {
  const plain = `testin-bench-mem-${process.pid}-${r}`;
  execFileSync('docker', ['run', '-d', '--rm', '--name', plain, image, 'sleep', '600'], { stdio: 'ignore' });
  try {
    await new Promise((res) => setTimeout(res, 1000));
    samples.container.push(usedMiB(plain));
  } finally {
    execFileSync('docker', ['rm', '-f', plain], { stdio: 'ignore' });
  }
  const vm = await start({ image });
  try {
    await new Promise((res) => setTimeout(res, 1000));
    samples.idle.push(usedMiB(vm.name));
    await vm.exec(['bash', '-c', 'for i in $(seq 100); do /bin/true; done; find /usr -type f | head -2000 | xargs cat > /dev/null']);
    samples.busy.push(usedMiB(vm.name));
    breakdown.push(rssByProcess(vm.name));
  } finally {
    await vm.stop();
  }
}

console.log(`\nmemory benchmark: ${rounds} rounds, medians, ${new Date().toISOString()}`);
const rows = [
  ['(a) plain container, sleep', median(samples.container)],
  ['(b) testin session, idle VM (1 GiB)', median(samples.idle)],
  ['(c) the same VM after the workload', median(samples.busy)],
];
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`${'case'.padEnd(w)}  ${'MiB'.padStart(7)}`);
for (const [name, mib] of rows) console.log(`${name.padEnd(w)}  ${mib.toFixed(1).padStart(7)}`);
const names = [...new Set(breakdown.flatMap((b) => Object.keys(b)))];
console.log(`RSS after the workload, MiB: ${names.map((n) => `${n} ${median(breakdown.map((b) => b[n] ?? 0)).toFixed(0)}`).join(', ')}`);

#!/usr/bin/env node
// bench/start: how far a VM run is from a plain container run (issue 27), side by side in one run; each
// case with the CPU the whole machine spent during its runs (on a machine of few cores a VM run's parts
// compete for them: a step moved onto another core only saves time when a core is idle for it).
//   (b) docker run --rm IMG true
//   (c) testin run IMG true, restored from the VM's snapshot (made before the rounds)
//   (c-) before: with --before BIN, the same run by an older build of testin (BIN: its dist/launcher/bin.js,
//        e.g. a git worktree of an earlier commit, built), side by side in the same rounds; without it, the
//        guest's per-run set-up of before (--kernel-cmdline testin.late_setup: lo and the NIC brought up and
//        the static /dev nodes made on every run, not once before the snapshot)
//   (w) testin run with a step of the guest left out by a word of the kernel's command line (--variant,
//       default testin.no_warm: without the guest's warm-up, so that TCG translates the kernel's paths of
//       the run's set-up and command on the vCPU that takes them, initfs/warm.c; testin.root_per_run: the
//       root's share mounted by each run rather than at boot, before the snapshot, initfs/boot.c)
//   (n) testin run --no-vm IMG true: testin's own floor without a VM (the CLI, container-init, the engine's
//       container), which KVM cannot shrink: (c) - (n) is the VM's part, restore and guest
//   then, from each testin run's --report, the phases (medians, ms): where a run's time goes
//   (k) the restore with a cold page cache (the host's caches dropped before each run) against a warm one
//   (p) N runs at once from one snapshot (--parallel, default 16): how many restored, and their restore times
// Usage: node bench/start.mjs [--rounds 7] [--image testin-test/busybox:1] [--parallel 16] [--cold-rounds 3] [--before BIN] [--variant testin.no_warm]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, median, option, testin } from './common.mjs';

const rounds = Number(option('--rounds', '7'));
const image = option('--image', 'testin-test/busybox:1');
const parallel = Number(option('--parallel', '16'));
const coldRounds = Number(option('--cold-rounds', '3'));
const before = option('--before', '');
const LATE = ['--kernel-cmdline', 'testin.late_setup'];
const variant = option('--variant', 'testin.no_warm');
const VARIANT = ['--kernel-cmdline', variant];
/** the before row's testin and its words before the image */
const [beforeBin, beforeArgs, beforeName] = before ? [before, [], `(c-) the same by the older build ${before}`] : [testin, LATE, "(c-) the same, the guest's set-up on each run (before)"];

fixture('busybox', image);
const dir = mkdtempSync(join(tmpdir(), 'testin-bench-start-'));
let reportN = 0;

/** the machine's CPU time so far, all cores, in seconds: user, nice, system, irq and softirq (not idle, iowait or steal) */
function machineCpu() {
  const [, user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  // the kernel counts /proc/stat in USER_HZ ticks: 100 a second on Linux
  return (user + nice + system + irq + softirq) / 100;
}

/** one timed run, with the CPU the whole machine spent meanwhile (its own, the engine's, the VM's); the report's phases when it is testin's */
function timed(file, argv, { report = false } = {}) {
  const path = report ? join(dir, `r${reportN++}.json`) : undefined;
  const full = path ? [argv[0], argv[1], '--report', path, ...argv.slice(2)] : argv;
  const wall0 = Date.now();
  const cpu0 = machineCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, full, { stdio: ['ignore', 'ignore', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = machineCpu() - cpu0;
  if (r.status !== 0) throw new Error(`${file} ${full.join(' ')} exited ${r.status}: ${r.stderr}`);
  const parsed = path ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
  // the CLI's own start (node, its bundle, the flags) before the run begins, and its end after the report's
  const cli = parsed && { 'cli.start': Date.parse(parsed.startedAt) - wall0, 'cli.end': Math.round(s * 1000) - (Date.parse(parsed.endedAt) - wall0) };
  return { s, cpu, phases: parsed && { ...cli, ...parsed.phases }, from: parsed?.vm?.startedFrom };
}

const dropCaches = () => {
  spawnSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3\n');
};

const cases = [
  [`(b) docker run --rm ${image} true`, () => timed('docker', ['run', '--rm', image, 'true'])],
  [`(c) testin run ${image} true (snapshot)`, () => timed('node', [testin, 'run', image, 'true'], { report: true })],
  [beforeName, () => timed('node', [beforeBin, 'run', ...beforeArgs, image, 'true'], { report: true })],
  [`(w) the same with --kernel-cmdline ${variant}`, () => timed('node', [testin, 'run', ...VARIANT, image, 'true'], { report: true })],
  [`(n) testin run --no-vm ${image} true (no VM)`, () => timed('node', [testin, 'run', '--no-vm', image, 'true'], { report: true })],
];
/** the cases that must restore from the snapshot */
const RESTORING = [1, 2, 3];

try {
  // the snapshots of both shapes, made now so that every round restores
  timed('node', [testin, 'run', image, 'true']);
  timed('node', [beforeBin, 'run', ...beforeArgs, image, 'true']);
  timed('node', [testin, 'run', ...VARIANT, image, 'true']);
  const samples = cases.map(() => []);
  for (let round = 0; round < rounds; round++) for (const [i, [, fn]] of cases.entries()) samples[i].push(fn());
  for (const [i, s] of samples.entries()) if (RESTORING.includes(i) && s.some((x) => x.from !== 'snapshot')) throw new Error(`${cases[i][0]}: a run did not restore`);

  // (k) cold page cache: the snapshot file, the toolbox and the image read from the disk again
  const cold = [];
  const warm = [];
  for (let round = 0; round < coldRounds; round++) {
    dropCaches();
    cold.push(timed('node', [testin, 'run', image, 'true'], { report: true }));
    warm.push(timed('node', [testin, 'run', image, 'true'], { report: true }));
  }

  // (p) N at once
  const t0 = Date.now();
  const many = await Promise.all(
    Array.from({ length: parallel }, (_, i) => {
      const path = join(dir, `p${i}.json`);
      return new Promise((resolve) => {
        const child = spawn('node', [testin, 'run', '--report', path, image, 'true'], { stdio: 'ignore' });
        child.on('exit', (code) => {
          let report = {};
          try {
            report = JSON.parse(readFileSync(path, 'utf8'));
          } catch {
            // no report: counted as not restored
          }
          resolve({ code, from: report.vm?.startedFrom, restore: report.phases?.['vm.restore'] });
        });
      });
    }),
  );
  const wall = (Date.now() - t0) / 1000;

  const rows = cases.map(([name], i) => [name, Math.min(...samples[i].map((x) => x.s)), median(samples[i].map((x) => x.s)), median(samples[i].map((x) => x.cpu))]);
  const width = Math.max(...rows.map((r) => r[0].length), 56);
  console.log(`\nstart benchmark: ${rounds} rounds each, side by side, ${new Date().toISOString()}`);
  // CPU s: what the whole machine's cores spent during a run (the client, the engine, the VM, and anything else running)
  console.log(`${'case'.padEnd(width)}  ${'min s'.padStart(7)}  ${'median s'.padStart(8)}  ${'CPU s'.padStart(6)}`);
  for (const [name, min, med, cpu] of rows) console.log(`${name.padEnd(width)}  ${min.toFixed(2).padStart(7)}  ${med.toFixed(2).padStart(8)}  ${cpu.toFixed(2).padStart(6)}`);
  /** (c) over case k: the medians' ratio, and the CPU's */
  const ratio = (k) => `${(rows[1][2] / rows[k][2]).toFixed(2)} (CPU: ${(rows[1][3] / rows[k][3]).toFixed(2)})`;
  console.log(`ratio (c)/(b), a VM run / a container run, medians: ${ratio(0)}`);
  console.log(`ratio (c)/(c-), after / before, medians: ${ratio(2)}`);
  console.log(`ratio (c)/(w), with / without the step ${variant} leaves out, medians: ${ratio(3)}`);
  console.log(`ratio (n)/(b), testin without a VM / a container run, medians: ${(rows[4][2] / rows[0][2]).toFixed(2)} (CPU: ${(rows[4][3] / rows[0][3]).toFixed(2)}); the VM's part (c)-(n): ${Math.round((rows[1][2] - rows[4][2]) * 1000)} ms`);

  const testinCases = [1, 2, 3, 4];
  const names = [...new Set(testinCases.flatMap((i) => samples[i].flatMap((x) => Object.keys(x.phases))))];
  console.log(`\nphases of a run (ms, medians)${' '.repeat(Math.max(0, width - 29))}${['(c)', '(c-)', '(w)', '(n)'].map((h) => `  ${h.padStart(7)}`).join('')}`);
  for (const name of names) {
    const col = (i) => {
      const xs = samples[i].map((x) => x.phases[name]).filter((v) => v !== undefined);
      return xs.length ? String(median(xs)) : '-';
    };
    console.log(`${name.padEnd(width)}${testinCases.map((i) => `  ${col(i).padStart(7)}`).join('')}`);
  }

  const phase = (xs, name) => median(xs.map((x) => x.phases[name]));
  console.log(`\n(k) page cache (${coldRounds} rounds; ms, medians)${' '.repeat(Math.max(0, width - 36))}  ${'cold'.padStart(7)}  ${'warm'.padStart(8)}`);
  for (const name of ['vm.restore', 'vm.restore.monitor', 'vm.restore.ram', 'vm.restore.load']) console.log(`${name.padEnd(width)}  ${String(phase(cold, name)).padStart(7)}  ${String(phase(warm, name)).padStart(8)}`);
  console.log(`${'the whole run (s)'.padEnd(width)}  ${median(cold.map((x) => x.s)).toFixed(2).padStart(7)}  ${median(warm.map((x) => x.s)).toFixed(2).padStart(8)}`);

  const restored = many.filter((m) => m.code === 0 && m.from === 'snapshot').length;
  const restores = many.map((m) => m.restore).filter((v) => v !== undefined);
  console.log(`\n(p) ${parallel} runs at once from one snapshot: ${restored}/${parallel} restored and exited 0; all done in ${wall.toFixed(1)} s; restore median ${median(restores)} ms, max ${Math.max(...restores)} ms`);
  if (restored !== parallel) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

#!/usr/bin/env node
// bench/load: how many runs a minute this machine gives at 1, 4, 8 and 16 at once, side by side in
// one run (each level runs for --seconds, a new run starting as soon as one ends), with every exit
// code and output checked and how each VM started (restored or booted); and the host memory one idle
// VM costs, resident, by process (QEMU, virtiofsd, passt, container-init's node).
// Usage: node bench/load.mjs [--levels 1,4,8,16] [--seconds 60]   (--levels '' measures the memory alone)
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, median, option, root, testin } from './common.mjs';

const levels = option('--levels', '1,4,8,16').split(',').filter(Boolean).map(Number);
const seconds = Number(option('--seconds', '60'));
const image = 'testin-test/busybox:1';
fixture('busybox', image, 'testin-test/busybox-entry:1');
const dir = mkdtempSync(join(tmpdir(), 'testin-bench-load-'));

/** one run of `sh -c 'echo N; exit N%7'`: resolves with what it checked */
function oneRun(n) {
  const report = join(dir, `r${n}.json`);
  return new Promise((resolve) => {
    execFile('node', [testin, 'run', '--report', report, '--image', image, '--', 'sh', '-c', `echo run-${n}; exit ${n % 7}`], { encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? error.code : 0;
      let startedFrom = '?';
      try {
        startedFrom = JSON.parse(readFileSync(report, 'utf8')).vm?.startedFrom ?? '?';
      } catch {}
      rmSync(report, { force: true });
      resolve({ ok: code === n % 7 && stdout === `run-${n}\n`, startedFrom, restoreTrouble: /did not restore|not answered/.test(stderr) });
    });
  });
}

/** runs `level` at a time for `seconds`; a run counts when it ended within the time */
async function load(level) {
  const until = Date.now() + seconds * 1000;
  let next = 0;
  const done = [];
  const started = Date.now();
  await Promise.all(
    Array.from({ length: level }, async () => {
      while (Date.now() < until) done.push(await oneRun(next++));
    }),
  );
  const minutes = (Date.now() - started) / 60_000;
  return {
    level,
    runs: done.length,
    perMinute: done.length / minutes,
    failed: done.filter((d) => !d.ok).length,
    restored: done.filter((d) => d.startedFrom === 'snapshot').length,
    trouble: done.filter((d) => d.restoreTrouble).length,
  };
}

/** RSS in MiB of each process of the container, by the binary's name */
function rssByProcess(name) {
  const lines = execFileSync('docker', ['top', name, '-o', 'pid,rss,args'], { encoding: 'utf8' }).trim().split('\n').slice(1);
  const by = {};
  for (const line of lines) {
    const [, rss, ...argv] = line.trim().split(/\s+/);
    // docker's init names container-init's launcher script; node runs container-init itself
    const bin = argv[0] === '/sbin/docker-init' ? 'docker-init' : (argv.find((a) => a.includes('/toolbox/bin/')) ?? argv[0] ?? '?').split('/').at(-1)?.replace(/^node$/, 'container-init (node)');
    by[bin] = (by[bin] ?? 0) + Number(rss) / 1024;
  }
  return by;
}

// the snapshot of the shape exists before the load
await oneRun(0);
const rows = [];
for (const level of levels) rows.push(await load(level));

const { start } = await import(join(root, 'dist/launcher/index.js'));
const idle = [];
for (let r = 0; r < 3; r++) {
  const vm = await start({ image });
  try {
    await vm.exec(['true']);
    await new Promise((res) => setTimeout(res, 1000));
    idle.push(rssByProcess(vm.name));
  } finally {
    await vm.stop();
  }
}
rmSync(dir, { recursive: true, force: true });

console.log(`\nload benchmark: ${seconds} s per level, ${new Date().toISOString()}`);
const base = rows[0]?.perMinute ?? 1;
console.log(['at once', 'runs', 'runs/min', 'vs 1 at once', 'wrong', 'restored', 'restore waits'].join(' | '));
for (const r of rows) console.log([r.level, r.runs, r.perMinute.toFixed(1), `${(r.perMinute / base).toFixed(2)}x`, r.failed, `${r.restored}/${r.runs}`, r.trouble].join(' | '));
const names = [...new Set(idle.flatMap((b) => Object.keys(b)))].filter((n) => /qemu|virtiofsd|passt|container-init|testin-agent|docker-init/.test(n));
const total = median(idle.map((b) => names.reduce((sum, n) => sum + (b[n] ?? 0), 0)));
console.log(`one idle VM (session, 1 GiB, after one exec), resident MiB, median of 3: ${names.map((n) => `${n} ${median(idle.map((b) => b[n] ?? 0)).toFixed(0)}`).join(', ')}; together ${total.toFixed(0)}`);

#!/usr/bin/env node
// bench/fs: file system work in the VM against a plain container, side by side in one run:
//   100 execs of `true`, then reading 3,600 files (57 MiB, /usr/share of the Debian image) twice,
//   (a) in a plain container, (b) in the VM from the image's root (virtiofs, cached hard:
//   cache=always), (c) in the VM from a bind mount holding the same files (--fs-cache, default
//   auto: the host may change them), (d) in the VM from the root with --fs-cache never.
// The client times itself (bash's `time`), so the VM's boot is not counted.
// Usage: node bench/fs.mjs [--rounds 3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, median, option, testin } from './common.mjs';

const rounds = Number(option('--rounds', '3'));
const image = 'testin-test/debian:12';

fixture('debian', image);
// the same files on the host, for the bind mount
const host = mkdtempSync(join(tmpdir(), 'testin-bench-fs-'));
const cid = execFileSync('docker', ['create', image, 'true'], { encoding: 'utf8' }).trim();
execFileSync('docker', ['cp', `${cid}:/usr/share`, join(host, 'share')]);
execFileSync('docker', ['cp', `${cid}:/usr/bin/true`, join(host, 'true')]);
execFileSync('docker', ['rm', cid], { stdio: 'ignore' });

const script = (bin, dir) => `
TIMEFORMAT=%R
e=$( { time for i in $(seq 100); do ${bin}; done; } 2>&1 )
r1=$( { time find ${dir} -type f -exec cat {} + > /dev/null; } 2>&1 )
r2=$( { time find ${dir} -type f -exec cat {} + > /dev/null; } 2>&1 )
echo "exec_s=$e read1_s=$r1 read2_s=$r2"`;

function measure(argv, bin, dir) {
  const out = execFileSync(argv[0], [...argv.slice(1), 'bash', '-c', script(bin, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = /exec_s=([\d.]+) read1_s=([\d.]+) read2_s=([\d.]+)/.exec(out);
  if (!m) throw new Error(`no measurement in: ${out}`);
  return { execMs: Number(m[1]) * 10, read1: Number(m[2]), read2: Number(m[3]) };
}

const run = (...flags) => ['node', testin, 'run', ...flags, '--image', image, '--'];
const cases = [
  ['(a) plain container', ['docker', 'run', '--rm', image], '/usr/bin/true', '/usr/share'],
  ['(b) VM, image root (always)', run(), '/usr/bin/true', '/usr/share'],
  ['(c) VM, bind mount (auto)', run('-v', `${host}:/data`), '/data/true', '/data/share'],
  ['(d) VM, root, --fs-cache never', run('--fs-cache', 'never'), '/usr/bin/true', '/usr/share'],
];
const samples = cases.map(() => []);
try {
  for (let r = 0; r < rounds; r++) {
    for (const [i, [, argv, bin, dir]] of cases.entries()) samples[i].push(measure(argv, bin, dir));
  }
} finally {
  rmSync(host, { recursive: true, force: true });
}
const rows = cases.map(([name], i) => [name, ...['execMs', 'read1', 'read2'].map((k) => median(samples[i].map((s) => s[k])))]);
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`\nfs benchmark: ${rounds} rounds, medians, ${new Date().toISOString()}`);
console.log(`${'case'.padEnd(w)}  ${'ms/exec'.padStart(8)}  ${'read 1 s'.padStart(8)}  ${'read 2 s'.padStart(8)}`);
for (const [name, e, r1, r2] of rows) console.log(`${name.padEnd(w)}  ${e.toFixed(1).padStart(8)}  ${r1.toFixed(2).padStart(8)}  ${r2.toFixed(2).padStart(8)}`);
console.log(`root (always) vs bind (auto): exec ${(rows[2][1] / rows[1][1]).toFixed(2)}x faster, second read ${(rows[2][3] / rows[1][3]).toFixed(2)}x faster`);

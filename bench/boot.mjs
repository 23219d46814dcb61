#!/usr/bin/env node
// bench/boot: the cost of a whole `testin run` against its floor, side by side in one run.
//   (a) floor: the same kernel + initrd + virtiofs root + command, QEMU and virtiofsd
//       started straight on the host by the same driver code (no Docker, no container)
//   (b) docker run --rm IMG true
//   (c) testin run --image IMG -- true
// Usage: node bench/boot.mjs [--rounds 5] [--image testin-test/busybox:1]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, option } from './common.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(option('--rounds', '5'));
const image = option('--image', 'testin-test/busybox:1');
const testin = join(root, 'dist/launcher/bin.js');

execFileSync(join(root, 'test/fixtures/build-busybox-image.sh'), [image], { stdio: 'inherit' });
const tree = /tree\s+(\S+)/.exec(execFileSync('node', [testin, 'toolbox', 'build'], { encoding: 'utf8' }))[1];
const { decideAccel, readHostKvmFacts } = await import(join(root, 'dist/launcher/accel.js'));
const accel = decideAccel('auto', readHostKvmFacts()).accel;

// the floor shares a plain folder holding the image's files
const rootfs = mkdtempSync(join(tmpdir(), 'testin-bench-rootfs-'));
const cid = execFileSync('docker', ['create', image, 'true'], { encoding: 'utf8' }).trim();
execFileSync('sh', ['-c', `docker export ${cid} | tar -x -C ${rootfs}`]);
execFileSync('docker', ['rm', cid]);

// the launcher's own plan builder, so the floor runs what testin would (no NIC: the VM alone)
const { buildPlan } = await import(join(root, 'dist/launcher/build-plan.js'));
const plan = buildPlan({ image, command: ['true'], network: 'none' }, { Env: ['PATH=/bin'] }, { runId: 'bench', accel, hostEnv: {} });

function timed(file, argv, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${file} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return s;
}

const cases = [
  ['(a) floor: QEMU + virtiofsd on the host, no Docker', () => {
    const work = mkdtempSync(join(tmpdir(), 'testin-bench-work-'));
    try {
      return timed('node', [join(tree, 'container-init.js')], {
        TESTIN_TOOLBOX_DIR: tree, TESTIN_WORK_DIR: work, TESTIN_SHARED_ROOT: rootfs, TESTIN_PLAN: JSON.stringify(plan),
      });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }],
  [`(b) docker run --rm ${image} true`, () => timed('docker', ['run', '--rm', image, 'true'])],
  [`(c) testin run --image ${image} -- true`, () => timed('node', [testin, 'run', '--image', image, '--', 'true'])],
];

const samples = cases.map(() => []);
try {
  for (let round = 0; round < rounds; round++) {
    cases.forEach(([, fn], i) => samples[i].push(fn()));
  }
} finally {
  rmSync(rootfs, { recursive: true, force: true });
}

const rows = cases.map(([name], i) => [name, Math.min(...samples[i]), median(samples[i])]);
const width = Math.max(...rows.map((r) => r[0].length));
console.log(`\nboot benchmark: ${rounds} rounds each, accel=${accel}, ${new Date().toISOString()}`);
console.log(`${'case'.padEnd(width)}  ${'min s'.padStart(7)}  ${'median s'.padStart(8)}`);
for (const [name, min, med] of rows) console.log(`${name.padEnd(width)}  ${min.toFixed(2).padStart(7)}  ${med.toFixed(2).padStart(8)}`);
console.log(`ratio (c)/(a), medians: ${(rows[2][2] / rows[0][2]).toFixed(2)}`);
console.log(`ratio (c)/(b), medians: ${(rows[2][2] / rows[1][2]).toFixed(2)}`);

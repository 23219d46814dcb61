#!/usr/bin/env node
// bench/boot: the cost of a whole `testin run` against its floor, side by side in one run,
// and what the toolbox costs: its first build on the engine, and finding it again.
//   (a) floor: the same kernel + initrd + virtiofs root + command, the toolbox's own QEMU and
//       virtiofsd started straight on the host by the same driver code (no Docker, no container)
//   (b) docker run --rm IMG true
//   (c) testin run --image IMG -- true: restored from the VM's snapshot (the default; made before the rounds)
//   (c') testin run --no-snapshot --image IMG -- true: the kernel booted cold
//   (c'') the same run through the library, in a node process of its own (import + run())
//   (d) the toolbox phase of a warm run (the library's run(), phases.toolbox), in ms
//   (e) with --cold: the first build of the toolbox on the engine (its volumes removed first), once
//   (h) testin run --boot -- true on a Debian 13 image with systemd (test/fixtures/build-systemd-image.sh):
//       the whole run, and of it the system's start (vm.systemUp: the image's init to
//       `is-system-running` saying running), fewer rounds (--boot-rounds, default 2; 0 leaves it out)
//   (i) testin run ARM64_IMAGE true: an arm64 image on this engine, its aarch64 VM restored from its snapshot
//   (i') the same, --no-snapshot: the arm64 kernel booted cold (--arm64-image; none leaves both out)
//   and the fixed costs: testin --version against node -e 0, the CLI against the library, and
//   from the container's start to QEMU's start (phases['vm.startToVmm'] of the library's runs)
// Usage: node bench/boot.mjs [--rounds 5] [--boot-rounds 2] [--image testin-test/busybox:1] [--arm64-image testin-test/busybox-arm64:1|none] [--cold]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, median, option, root, testin } from './common.mjs';

const rounds = Number(option('--rounds', '5'));
const image = option('--image', 'testin-test/busybox:1');
const cold = process.argv.includes('--cold');
const bootRounds = Number(option('--boot-rounds', '2'));
const SYSTEMD_IMAGE = 'testin-test/systemd:13-3';
const arm64Image = option('--arm64-image', 'testin-test/busybox-arm64:1');
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();

fixture('busybox', image);
if (bootRounds > 0) fixture('systemd', SYSTEMD_IMAGE, 'debian:trixie-slim');
if (arm64Image !== 'none') fixture('arm64', arm64Image, 'debian:trixie-slim');

let coldBuild;
if (cold) {
  // forget every toolbox of this testin (the volumes; the base image stays), then build one, timed
  sh(`docker volume ls -q --filter label=testin.toolbox.recipe | xargs -r docker volume rm`);
  sh(`docker volume ls -q --filter label=testin.toolbox | xargs -r docker volume rm`);
  sh(`docker volume ls -q --filter label=testin.modules | xargs -r docker volume rm`);
  const t0 = process.hrtime.bigint();
  execFileSync('node', [testin, 'toolbox', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  coldBuild = Number(process.hrtime.bigint() - t0) / 1e9;
}
const built = execFileSync('node', [testin, 'toolbox', 'build'], { encoding: 'utf8' });
const volume = /^\s+volume\s+(\S+)$/m.exec(built)[1];
const accel = /^\s+accel\s+(\w+)/m.exec(built)[1];

// the floor runs the toolbox's own tree on the host: copied out of its volume once
const tree = mkdtempSync(join(tmpdir(), 'testin-bench-toolbox-'));
const holder = sh(`docker create -v ${volume}:/t ${image} /none`);
sh(`docker cp ${holder}:/t/. ${tree} && docker rm ${holder} >/dev/null`);
// ...and shares a plain folder holding the image's files
const rootfs = mkdtempSync(join(tmpdir(), 'testin-bench-rootfs-'));
const cid = sh(`docker create ${image} true`);
sh(`docker export ${cid} | tar -x -C ${rootfs} && docker rm ${cid} >/dev/null`);

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

// the toolbox's own loader, libraries and node, as the toolbox's layout names them
const { TOOLBOX_LAYOUT } = await import(join(root, 'dist/contract/layout.js'));
const loader = [join(tree, TOOLBOX_LAYOUT.loader), '--library-path', join(tree, TOOLBOX_LAYOUT.lib), join(tree, TOOLBOX_LAYOUT.node), join(tree, TOOLBOX_LAYOUT.bundle)];
const { run } = await import(join(root, 'dist/launcher/index.js'));
const toolboxPhases = [];
const startToVmm = [];
const containerStart = [];
const initToVmm = [];
const libraryRuns = [];
const cases = [
  ['(a) floor: QEMU + virtiofsd on the host, no Docker', () =>
    // container-init's work folder is /run/testin: a tmpfs of its own, in a mount namespace of its own
    timed('unshare', ['-m', 'sh', '-c', 'mkdir -p /run/testin && mount -t tmpfs tmpfs /run/testin && exec "$@"', 'sh', ...loader, 'true'], {
      TESTIN_TOOLBOX_DIR: tree, TESTIN_SHARED_ROOT: rootfs, TESTIN_PLAN: JSON.stringify(plan),
    })],
  [`(b) docker run --rm ${image} true`, () => timed('docker', ['run', '--rm', image, 'true'])],
  [`(c) testin run --image ${image} -- true (snapshot)`, () => timed('node', [testin, 'run', '--image', image, '--', 'true'])],
  [`(c') the same, --no-snapshot (cold boot)`, () => timed('node', [testin, 'run', '--no-snapshot', '--image', image, '--', 'true'])],
  [`(c'') the same through the library, own process`, () =>
    timed('node', ['--input-type=module', '-e', `const { run } = await import(${JSON.stringify(join(root, 'dist/launcher/index.js'))}); process.exitCode = (await run({ image: ${JSON.stringify(image)}, command: ['true'] })).exitCode;`])],
  ['testin --version', () => timed('node', [testin, '--version'])],
  ['node -e 0', () => timed('node', ['-e', '0'])],
  ...(arm64Image === 'none'
    ? []
    : [
        [`(i) testin run ${arm64Image} true (arm64 VM, snapshot)`, () => timed('node', [testin, 'run', arm64Image, 'true'])],
        [`(i') the same, --no-snapshot (arm64 kernel, cold)`, () => timed('node', [testin, 'run', '--no-snapshot', arm64Image, 'true'])],
      ]),
];
// the snapshots of these VM shapes, made now if they are not there yet, so every round restores them
timed('node', [testin, 'run', '--image', image, '--', 'true']);
if (arm64Image !== 'none') timed('node', [testin, 'run', arm64Image, 'true']);

const samples = cases.map(() => []);
try {
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, fn]] of cases.entries()) samples[i].push(fn());
    const r = await run({ image, command: ['true'] }, { stderr: process.stderr });
    toolboxPhases.push(r.phases.toolbox);
    startToVmm.push(r.phases['vm.startToVmm']);
    containerStart.push(r.phases['vm.containerStart']);
    initToVmm.push(r.phases['vm.startToVmm'] - r.phases['vm.containerStart']);
    libraryRuns.push(r.durationMs);
  }
} finally {
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(tree, { recursive: true, force: true });
}

// (h) --boot: the whole run and, from its report, the system's start
const bootRuns = [];
const systemUp = [];
if (bootRounds > 0) {
  const dir = mkdtempSync(join(tmpdir(), 'testin-bench-boot-'));
  try {
    for (let round = 0; round < bootRounds; round++) {
      const report = join(dir, `report-${round}.json`);
      bootRuns.push(timed('node', [testin, 'run', '--boot', '--report', report, '--image', SYSTEMD_IMAGE, '--', 'true']));
      systemUp.push(JSON.parse(readFileSync(report, 'utf8')).phases['vm.systemUp']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = cases.map(([name], i) => [name, Math.min(...samples[i]), median(samples[i])]);
const width = Math.max(...rows.map((r) => r[0].length), 48);
console.log(`\nboot benchmark: ${rounds} rounds each, accel=${accel}, ${new Date().toISOString()}`);
console.log(`${'case'.padEnd(width)}  ${'min s'.padStart(7)}  ${'median s'.padStart(8)}`);
for (const [name, min, med] of rows) console.log(`${name.padEnd(width)}  ${min.toFixed(2).padStart(7)}  ${med.toFixed(2).padStart(8)}`);
console.log(`${'(d) toolbox phase of a warm run (ms)'.padEnd(width)}  ${String(Math.min(...toolboxPhases)).padStart(7)}  ${String(median(toolboxPhases)).padStart(8)}`);
if (coldBuild !== undefined) console.log(`${'(e) first build of the toolbox on the engine (s)'.padEnd(width)}  ${coldBuild.toFixed(1).padStart(7)}  ${'(once)'.padStart(8)}`);
const msRow = (name, xs) => console.log(`${name.padEnd(width)}  ${String(Math.min(...xs)).padStart(7)}  ${String(median(xs)).padStart(8)}`);
msRow('(f) container start to QEMU start (ms)', startToVmm);
msRow("(f1)  of it: the engine starting the container (ms)", containerStart);
msRow("(f2)  of it: container-init's process start to QEMU (ms)", initToVmm);
console.log(`${'(g) the library run(), in process (ms)'.padEnd(width)}  ${String(Math.min(...libraryRuns)).padStart(7)}  ${String(median(libraryRuns)).padStart(8)}`);
if (bootRuns.length) {
  console.log(`${`(h) testin run --boot --image ${SYSTEMD_IMAGE} -- true (s)`.padEnd(width)}  ${Math.min(...bootRuns).toFixed(2).padStart(7)}  ${median(bootRuns).toFixed(2).padStart(8)}`);
  msRow("(h1)  of it: the image's init starting the system (ms)", systemUp);
}
const med = (i) => rows[i][2];
console.log(`ratio (c)/(a), snapshot run / floor, medians: ${(med(2) / med(0)).toFixed(2)}`);
console.log(`ratio (c')/(a), cold run / floor, medians: ${(med(3) / med(0)).toFixed(2)}`);
console.log(`ratio (c)/(c'), snapshot / cold, medians: ${(med(2) / med(3)).toFixed(2)}`);
console.log(`ratio (c)/(b), medians: ${(med(2) / med(1)).toFixed(2)}`);
console.log(`CLI over the library in its own process, (c)-(c''), medians: ${Math.round((med(2) - med(4)) * 1000)} ms; over the in-process run() (g): ${Math.round(med(2) * 1000 - median(libraryRuns))} ms`);
console.log(`ratio testin --version / node -e 0, medians: ${(med(5) / med(6)).toFixed(2)}`);
if (arm64Image !== 'none') console.log(`ratio (i)/(c), arm64 VM / x86-64 VM, from their snapshots, medians: ${(med(7) / med(2)).toFixed(2)}; cold (i')/(c'): ${(med(8) / med(3)).toFixed(2)}`);

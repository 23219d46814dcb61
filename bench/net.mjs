#!/usr/bin/env node
// bench/net: TCP throughput (upload and download) and connect latency to a server in another
//   container, (a) from a plain container, (b) from inside the VM through passt (testin's default
//   where passt is installed), (c) from inside the VM through QEMU's slirp, side by side in one run.
// The client measures itself (bash's `time`), so the VM's boot is not counted.
// Usage: node bench/net.mjs [--rounds 3] [--mib 64] [--connects 100]
import { execFileSync } from 'node:child_process';
import { fixture, median, option, testin } from './common.mjs';

const rounds = Number(option('--rounds', '3'));
const mib = Number(option('--mib', '64'));
const connects = Number(option('--connects', '100'));
const server = 'testin-bench-net-server';
const network = 'testin-bench-net';

fixture('busybox', 'testin-test/busybox:1');
fixture('debian', 'testin-test/debian:12');
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
sh(`docker rm -f ${server} >/dev/null 2>&1; docker network rm ${network} >/dev/null 2>&1; docker network create ${network} >/dev/null`);
sh(`docker run -d --name ${server} --network ${network} testin-test/busybox:1 sh -c 'mkdir -p /www && echo ok > /www/index.html && httpd -p 80 -h /www && (nc -ll -p 6000 -e sh -c "head -c ${mib * 1048576} /dev/zero" &) && exec nc -ll -p 5000 -e sh -c "cat > /dev/null"' >/dev/null`);

const script = `
TIMEFORMAT=%R
sleep 1
t=$( { time head -c ${mib}M /dev/zero > /dev/tcp/${server}/5000; } 2>&1 )
d=$( { time cat < /dev/tcp/${server}/6000 > /dev/null; } 2>&1 )
c=$( { time for i in $(seq ${connects}); do exec 3<>/dev/tcp/${server}/80; exec 3>&-; done; } 2>&1 )
echo "throughput_s=$t download_s=$d connect_s=$c"`;

function measure(argv) {
  const out = execFileSync(argv[0], [...argv.slice(1), 'bash', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = /throughput_s=([\d.]+) download_s=([\d.]+) connect_s=([\d.]+)/.exec(out);
  if (!m) throw new Error(`no measurement in: ${out}`);
  return { mbps: mib / Number(m[1]), downMbps: mib / Number(m[2]), connectMs: (Number(m[3]) * 1000) / connects };
}

const cases = [
  ['(a) plain container', ['docker', 'run', '--rm', '--network', network, 'testin-test/debian:12']],
  ['(b) in the VM, passt', ['node', testin, 'run', '--net-backend', 'passt', '--network', network, '--image', 'testin-test/debian:12', '--']],
  ['(c) in the VM, slirp', ['node', testin, 'run', '--net-backend', 'slirp', '--network', network, '--image', 'testin-test/debian:12', '--']],
];
const samples = cases.map(() => []);
try {
  for (let r = 0; r < rounds; r++) {
    for (const [i, [, argv]] of cases.entries()) samples[i].push(measure(argv));
  }
} finally {
  sh(`docker rm -f ${server} >/dev/null 2>&1; docker network rm ${network} >/dev/null 2>&1`);
}
const rows = cases.map(([name], i) => [name, ...['mbps', 'downMbps', 'connectMs'].map((k) => median(samples[i].map((s) => s[k])))]);
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`\nnet benchmark: ${rounds} rounds, ${mib} MiB up and down, ${connects} connects, ${new Date().toISOString()}`);
console.log(`${'client'.padEnd(w)}  ${'up MiB/s'.padStart(9)}  ${'down MiB/s'.padStart(10)}  ${'connect ms'.padStart(10)}  ratios to (a): up / down / connect`);
for (const [name, up, down, ms] of rows) {
  const ratios = [up / rows[0][1], down / rows[0][2], ms / rows[0][3]].map((r) => r.toFixed(2)).join(' / ');
  console.log(`${name.padEnd(w)}  ${up.toFixed(1).padStart(9)}  ${down.toFixed(1).padStart(10)}  ${ms.toFixed(2).padStart(10)}  ${ratios}`);
}
console.log(`passt vs slirp: up ${(rows[1][1] / rows[2][1]).toFixed(2)}x, down ${(rows[1][2] / rows[2][2]).toFixed(2)}x, connect ${(rows[1][3] / rows[2][3]).toFixed(2)}x the time`);

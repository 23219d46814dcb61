#!/usr/bin/env node
// bench/ports: what reaching a server in the VM costs when its ports were declared (--expose:
//   the network backend forwards them) against when nothing declared them (container-init's
//   forward: the guest reports its listening sockets, container-init listens on them and the
//   guest dials back for each connection), through passt and through slirp, side by side in
//   one run. A client in a plain container on the same network measures upload, download and
//   connect latency, and the time from the moment the server in the VM is told to start
//   listening on a new port until the client gets its first answer there.
// Usage: node bench/ports.mjs [--rounds 3] [--mib 64] [--connects 100]
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fixture, median, option, testin } from './common.mjs';

const rounds = Number(option('--rounds', '3'));
const mib = Number(option('--mib', '64'));
const connects = Number(option('--connects', '100'));
const network = 'testin-bench-ports';
const server = 'testin-bench-ports-server';

fixture('busybox', 'testin-test/busybox:1');
fixture('debian', 'testin-test/debian:12');
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
const clean = () => sh(`docker rm -f ${server} >/dev/null 2>&1; docker network rm ${network} >/dev/null 2>&1; true`);
clean();
sh(`docker network create ${network} >/dev/null`);

// the server in the VM: a greeter on 4000, a sink on 5000, a source on 6000, httpd on 80; on a line of stdin, a new server on 7000
const serve = `mkdir -p /www && echo ok > /www/index.html && httpd -p 80 -h /www
nc -ll -p 4000 -e echo ok & nc -ll -p 5000 -e sh -c 'cat > /dev/null' & nc -ll -p 6000 -e sh -c 'head -c ${mib * 1048576} /dev/zero' &
echo ready; read go; nc -ll -p 7000 -e echo hi & sleep 600`;

// the client: in a container, so its clock is the host's; prints when 7000 first answered
const client = `
TIMEFORMAT=%R
until [ "$(cat < /dev/tcp/${server}/4000 2>/dev/null)" = ok ]; do sleep 0.05; done 2>/dev/null
echo waiting
read go
until [ "$(cat < /dev/tcp/${server}/7000 2>/dev/null)" = hi ]; do sleep 0.005; done 2>/dev/null
echo "reached_ns=$(date +%s%N)"
t=$( { time head -c ${mib}M /dev/zero > /dev/tcp/${server}/5000; } 2>&1 )
d=$( { time cat < /dev/tcp/${server}/6000 > /dev/null; } 2>&1 )
c=$( { time for i in $(seq ${connects}); do exec 3<>/dev/tcp/${server}/80; exec 3>&-; done; } 2>&1 )
echo "throughput_s=$t download_s=$d connect_s=$c"`;

function lines(child) {
  const rl = createInterface({ input: child.stdout });
  const seen = [];
  let wake;
  rl.on('line', (l) => {
    seen.push(l);
    wake?.();
  });
  return async (re) => {
    for (;;) {
      const hit = seen.find((l) => re.test(l));
      if (hit) return hit;
      await new Promise((r) => (wake = r));
    }
  };
}

async function measure(backend, declared) {
  const expose = declared ? ['--expose', '80', '--expose', '4000', '--expose', '5000', '--expose', '6000', '--expose', '7000'] : [];
  const vm = spawn('node', [testin, 'run', '-i', '--net-backend', backend, '--network', network, '--name', server, ...expose, '--image', 'testin-test/busybox:1', '--', 'sh', '-c', serve], { stdio: ['pipe', 'pipe', 'inherit'] });
  const c = spawn('docker', ['run', '--rm', '-i', '--network', network, 'testin-test/debian:12', 'bash', '-c', client], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await lines(vm)(/^ready$/);
    await lines(c)(/^waiting$/);
    const t0 = Date.now();
    vm.stdin.write('go\n');
    c.stdin.write('go\n');
    const next = lines(c);
    const reachedMs = Number(/reached_ns=(\d+)/.exec(await next(/reached_ns=/))[1]) / 1e6 - t0;
    const m = /throughput_s=([\d.]+) download_s=([\d.]+) connect_s=([\d.]+)/.exec(await next(/throughput_s=/));
    return { reachedMs, mbps: mib / Number(m[1]), downMbps: mib / Number(m[2]), connectMs: (Number(m[3]) * 1000) / connects };
  } finally {
    c.kill('SIGTERM');
    vm.kill('SIGTERM');
    await Promise.all([once(c, 'exit'), vm.exitCode === null ? once(vm, 'exit') : undefined]);
  }
}

const cases = [
  ['(a) declared, passt', 'passt', true],
  ['(b) undeclared, passt', 'passt', false],
  ['(c) declared, slirp', 'slirp', true],
  ['(d) undeclared, slirp', 'slirp', false],
];
const samples = cases.map(() => []);
try {
  for (let r = 0; r < rounds; r++) {
    for (const [i, [, backend, declared]] of cases.entries()) samples[i].push(await measure(backend, declared));
  }
} finally {
  clean();
}
const keys = ['mbps', 'downMbps', 'connectMs', 'reachedMs'];
const rows = cases.map(([name], i) => [name, ...keys.map((k) => median(samples[i].map((s) => s[k])))]);
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`\nports benchmark: ${rounds} rounds, ${mib} MiB up and down, ${connects} connects, ${new Date().toISOString()}`);
console.log(`${'server ports'.padEnd(w)}  ${'up MiB/s'.padStart(9)}  ${'down MiB/s'.padStart(10)}  ${'connect ms'.padStart(10)}  ${'reach ms'.padStart(8)}  undeclared/declared: up / down / connect`);
for (const [i, [name, up, down, ms, reach]] of rows.entries()) {
  const base = rows[i - (i % 2)];
  const ratios = i % 2 ? [up / base[1], down / base[2], ms / base[3]].map((r) => r.toFixed(2)).join(' / ') : '';
  console.log(`${name.padEnd(w)}  ${up.toFixed(1).padStart(9)}  ${down.toFixed(1).padStart(10)}  ${ms.toFixed(2).padStart(10)}  ${reach.toFixed(0).padStart(8)}  ${ratios}`);
}

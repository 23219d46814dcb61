import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, DEBIAN_IMAGE } from '../helpers/paths.js';
import { leftovers, testin, testinWhen, testinWhenReady } from '../helpers/testin.js';

const skip = inject('e2eSkip');
const NET = `testin-e2e-net-${process.pid}`;
const WEB = `testin-e2e-web-${process.pid}`;
const SUBNET = `172.29.${process.pid % 250}.0/24`;
const VM_IP = SUBNET.replace('0/24', '77');
const SERVE = (text: string, port: number): string => `mkdir -p /www && echo ${text} > /www/index.html && httpd -p ${port} -h /www && echo ready && sleep 600`;

describe.skipIf(skip !== '')('the VM on the container network', () => {
  beforeAll(async () => {
    // a subnet of its own, so that a run can choose its address (--ip)
    await execa('docker', ['network', 'create', '--subnet', SUBNET, NET]);
    await execa('docker', ['run', '-d', '--name', WEB, '--network', NET, BUSYBOX_IMAGE, 'sh', '-c', SERVE('hello-from-a-sibling', 80)]);
  });

  afterAll(async () => {
    await execa('docker', ['rm', '-f', WEB], { reject: false });
    await execa('docker', ['network', 'rm', NET], { reject: false });
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  // the MTU tells which backend carried the packets: passt's 65520, slirp's 1500
  it.each([
    ['passt', 65520],
    ['slirp', 1500],
  ])('through %s: reaches another container by name through docker DNS, and sees --add-host and --hostname', async (backend, mtu) => {
    const r = await testin(['run', '--net-backend', backend, '--network', NET, '--add-host', 'extra.example:192.0.2.7', '--hostname', 'vm-host', '--image', DEBIAN_IMAGE, '--', 'bash', '-c',
      `cat /sys/class/net/eth0/mtu; getent hosts ${WEB} | grep -q . && echo resolved; getent hosts extra.example; hostname; ` +
      `exec 3<>/dev/tcp/${WEB}/80 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && tail -1 <&3`]);
    expect(r.stdout.toString()).toBe(`${mtu}\nresolved\n192.0.2.7       extra.example\nvm-host\nhello-from-a-sibling\n`);
    expect(r.exitCode).toBe(0);
  });

  it.each([
    ['passt', true],
    ['slirp', false],
  ])("a run through %s gets testin's seccomp profile (passt's sandbox needs pivot_root): %s", async (backend, profiled) => {
    const name = `testin-e2e-seccomp-${backend}-${process.pid}`;
    let securityOpt: Promise<string[]> = Promise.resolve([]);
    const r = await testinWhen(['run', '--net-backend', backend, '--name', name, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600'], 'ready', (child) => {
      securityOpt = execa('docker', ['inspect', '--format', '{{json .HostConfig.SecurityOpt}}', name]).then((i) => JSON.parse(i.stdout) as string[]);
      void securityOpt.finally(() => child.kill('SIGTERM'));
    });
    expect(r.exitCode).toBe(143);
    const opts = await securityOpt;
    expect(opts).toContain('apparmor=unconfined');
    const seccomp = opts.find((o) => o.startsWith('seccomp='));
    if (!profiled) return void expect(seccomp).toBeUndefined();
    const profile = JSON.parse((seccomp as string).slice('seccomp='.length)) as { defaultAction: string; syscalls: { names: string[]; action: string }[] };
    // everything allowed but what reaches into the host kernel, which is refused as docker's own profile refuses it
    expect(profile.defaultAction).toBe('SCMP_ACT_ALLOW');
    const refused = profile.syscalls.filter((c) => c.action !== 'SCMP_ACT_ALLOW').flatMap((c) => c.names);
    expect(refused).toEqual(expect.arrayContaining(['kexec_load', 'init_module', 'bpf', 'reboot']));
    expect(refused).not.toContain('pivot_root');
  });

  it('publishes a server in the VM with -p: reached from the host, and from a sibling container by name, by --network-alias and at its --ip', async () => {
    const name = `testin-e2e-vmserver-${process.pid}`;
    let fromHost = '';
    let fromSibling = '';
    const r = await testinWhenReady(
      ['run', '--network', NET, '--name', name, '--network-alias', 'vm-web', '--network-alias', 'vm-www', '--ip', VM_IP, '-p', '127.0.0.1::8080', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', SERVE('served-from-the-vm', 8080)],
      (child) => {
        void (async () => {
          try {
            const port = (await execa('docker', ['port', name, '8080/tcp'])).stdout.split('\n')[0]?.split(':').at(-1);
            fromHost = await (await fetch(`http://127.0.0.1:${port}/`)).text();
            const fetchAll = [name, 'vm-web', 'vm-www', VM_IP].map((host) => `wget -qO- http://${host}:8080/`).join('; ');
            fromSibling = (await execa('docker', ['run', '--rm', '--network', NET, BUSYBOX_IMAGE, 'sh', '-c', fetchAll])).stdout;
          } finally {
            child.kill('SIGTERM');
          }
        })();
      },
    );
    expect(fromHost).toBe('served-from-the-vm\n');
    expect(fromSibling.split('\n')).toEqual(Array(4).fill('served-from-the-vm'));
    expect(r.exitCode).toBe(143);
  });

  it('--network-alias and --ip are refused in one line on the default network, and an --ip outside the subnet by the engine: 125, nothing left', async () => {
    const alias = await testin(['run', '--network-alias', 'web', BUSYBOX_IMAGE, 'true']);
    expect([alias.exitCode, alias.stderr.toString()]).toEqual([125, 'testin: --network-alias needs a user-defined network: the container is on bridge\n  fix: create one (docker network create NET) and add --network NET\n']);
    const outside = await testin(['run', '--network', NET, '--ip', '192.0.2.7', BUSYBOX_IMAGE, 'true']);
    expect(outside.exitCode).toBe(125);
    expect(outside.stderr.toString()).toMatch(/^testin: the engine .*192\.0\.2\.7.*\n {2}fix: give --ip \(--ip6\) an address of the network's subnet/m);
  });

  it('a host port another container holds: 125, the port named with where to look and what to publish on, nothing left', async () => {
    const port = 21_000 + (process.pid % 10_000);
    const holder = `testin-e2e-port-holder-${process.pid}`;
    await execa('docker', ['run', '-d', '--name', holder, '-p', `127.0.0.1:${port}:80`, BUSYBOX_IMAGE, 'sleep', '120']);
    try {
      const r = await testin(['run', '-p', `127.0.0.1:${port}:8080`, BUSYBOX_IMAGE, 'true']);
      expect(r.exitCode).toBe(125);
      expect(r.stderr.toString()).toMatch(new RegExp(`^testin: the engine .*${port}.*\n {2}fix: the host's port ${port} is taken \\(docker ps --filter publish=${port} `, 'm'));
    } finally {
      await execa('docker', ['rm', '-f', holder], { reject: false });
    }
  });

  // as in docker: a server in the VM is reachable on any port it listens on, declared or not; one bound to loopback is not
  it.each(['passt', 'slirp'])('through %s: a server on a port nothing declared is reached from a sibling container and from a second testin VM', async (backend) => {
    const name = `testin-e2e-undeclared-${backend}-${process.pid}`;
    let fromSibling = '';
    let fromVm = '';
    let loopbackOnly = '';
    // the forward follows the guest's listening sockets within a tenth of a second: the clients retry briefly, as compose clients do
    const retry = (cmd: string): string => `for i in $(seq 30); do ${cmd} && exit 0; sleep 0.2; done; exit 1`;
    const r = await testinWhenReady(
      ['run', '--net-backend', backend, '--network', NET, '--name', name, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c',
        'mkdir -p /www && echo undeclared > /www/index.html && httpd -p 8081 -h /www && httpd -p 127.0.0.1:8082 -h /www && echo ready && sleep 600'],
      (child) => {
        void (async () => {
          try {
            fromSibling = (await execa('docker', ['run', '--rm', '--network', NET, BUSYBOX_IMAGE, 'sh', '-c', retry(`wget -qO- http://${name}:8081/`)])).stdout;
            loopbackOnly = (await execa('docker', ['run', '--rm', '--network', NET, BUSYBOX_IMAGE, 'sh', '-c', `wget -T 3 -qO- http://${name}:8082/ 2>&1 || echo not-reachable`])).stdout;
            fromVm = (await testin(['run', '--net-backend', backend, '--network', NET, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', retry(`wget -qO- http://${name}:8081/`)])).stdout.toString();
          } finally {
            child.kill('SIGTERM');
          }
        })();
      },
    );
    expect(fromSibling).toBe('undeclared');
    expect(loopbackOnly).toMatch(/not-reachable$/);
    expect(fromVm).toBe('undeclared\n');
    expect(r.exitCode).toBe(143);
  });

  it('ends the run with 125 and the reason when passt, the VM network, dies under it (its data on huge pages until then)', async () => {
    const name = `testin-e2e-passt-${process.pid}`;
    let killed: Promise<{ stdout: string }> | undefined;
    const r = await testinWhenReady(['run', '--net-backend', 'passt', '--name', name, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600'], () => {
      // busybox has no pkill, and passt runs under the toolbox's loader: find it by its command line
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's ${p#...}, not a template
      const script = 'for p in /proc/[0-9]*; do grep -q "bin/pass[t]" $p/cmdline 2>/dev/null && { grep AnonHugePages $p/smaps_rollup; kill ${p#/proc/}; }; done';
      killed = execa('docker', ['exec', name, '/run/testin/toolbox/bin/busybox', 'sh', '-c', script], { reject: false });
    });
    expect(r.exitCode).toBe(125);
    expect(r.stderr.toString()).toMatch(/passt, which carries the VM's network, ended/);
    // initfs/huge-bss.c, preloaded: where the host has transparent huge pages, passt's start wrote its BSS into some
    const huge = Number(/AnonHugePages:\s+(\d+) kB/.exec((await killed)?.stdout ?? '')?.[1]);
    if (readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').includes('[never]')) expect(huge).toBe(0);
    else expect(huge).toBeGreaterThan(0);
  });

  it('--network none leaves the VM without a NIC or a route out', async () => {
    const r = await testin(['run', '--network', 'none', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'ls /sys/class/net; ip route | wc -l; wget -T 2 -qO- http://192.0.2.1/ 2>/dev/null || echo no-way-out']);
    expect(r.stdout.toString()).toBe('lo\n0\nno-way-out\n');
  });
});

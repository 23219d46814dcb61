/**
 * Copy me: tests of things only a real kernel can do, each in a VM booted from
 * an image (here a Debian image with iproute2; use your own).
 * Run with vitest; with `npm i -D testin vitest` the import below resolves as it does here.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { createVmTest } from 'testin/vitest';

const image = process.env.TESTIN_EXAMPLE_IMAGE ?? 'testin-test/debian:12';

// one VM for the whole file (scope 'test' gives each test its own)
const test = await createVmTest({ image, scope: 'file' });

test('a network namespace holding one end of a veth pair, up', async ({ vm }) => {
  const setup = await vm.exec(['sh', '-c', [
    'ip netns add blue',
    'ip link add veth0 type veth peer name veth1',
    'ip link set veth1 netns blue',
    'ip addr add 10.99.0.1/24 dev veth0 && ip link set veth0 up',
    'ip netns exec blue ip addr add 10.99.0.2/24 dev veth1',
    'ip netns exec blue ip link set veth1 up',
    'ip netns exec blue ip link set lo up',
  ].join(' && ')]);
  expect(setup.stderr.toString()).toBe('');
  expect(setup.exitCode).toBe(0);

  const inside = await vm.exec(['ip', 'netns', 'exec', 'blue', 'sh', '-c', 'cat /sys/class/net/veth1/operstate; ls /sys/class/net']);
  expect(inside.stdout.toString()).toBe('up\nlo\nveth1\n');
});

test('the namespace from the first test is still there (same VM, scope "file")', async ({ vm }) => {
  const r = await vm.exec(['ip', 'netns', 'list']);
  expect(r.stdout.toString()).toMatch(/^blue/m);
});

test('a sysctl written in the VM does not touch the host', async ({ vm }) => {
  // the host this test runs on (here the engine's host too): read it first, write the other value in the VM
  const host = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const other = host === '1' ? '0' : '1';
  const r = await vm.exec(['sh', '-c', `sysctl -w net.ipv4.ip_forward=${other} >/dev/null && cat /proc/sys/net/ipv4/ip_forward`]);
  expect(r.stdout.toString()).toBe(`${other}\n`);
  expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(host);
});

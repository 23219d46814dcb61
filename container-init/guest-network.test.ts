import { describe, expect, it } from 'vitest';
import { buildNetdevArgs, buildPasstArgs, guestNetSpec, passtUid, rewriteResolvConf } from './guest-network.js';

describe('guest network', () => {
  it("runs passt as nobody where the container's root is the host's, as that root in a user namespace of its own", () => {
    // rootful Docker or Podman: the whole range, identity-mapped
    expect(passtUid('         0          0 4294967295\n')).toBe(65534);
    // rootless Podman as recorded here (tester, uid 1001, subuids from 100000); rootless Docker and userns-remap alike
    expect(passtUid('         0       1001          1\n         1     100000      65536\n')).toBe(0);
    expect(buildPasstArgs('/s', [], 0).join(' ')).toContain('--runas 0:0');
    expect(buildPasstArgs('/s', []).join(' ')).toContain('--runas 65534:65534');
  });


  it('forwards each port from the container to the guest address', () => {
    expect(buildNetdevArgs([{ port: 80, proto: 'tcp' }, { port: 53, proto: 'udp' }])).toEqual([
      '-netdev', 'user,id=n0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,hostfwd=tcp::80-10.0.2.15:80,hostfwd=udp::53-10.0.2.15:53',
      '-device', 'virtio-net-pci,netdev=n0,romfile=',
    ]);
    expect(guestNetSpec()).toBe('10.0.2.15/24 10.0.2.2');
  });

  it('hands the NIC to passt over a socket pair (an end each at fd 3), with the same guest addresses, DNS forwarder and ports', () => {
    expect(buildNetdevArgs([{ port: 80, proto: 'tcp' }], { kind: 'passt', fd: 3 })).toEqual([
      '-netdev', 'stream,id=n0,server=off,addr.type=fd,addr.str=3',
      '-device', 'virtio-net-pci,netdev=n0,romfile=',
    ]);
    const args = buildPasstArgs(3, [{ port: 80, proto: 'tcp' }, { port: 8080, proto: 'tcp' }, { port: 53, proto: 'udp' }]);
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];
    expect(args).not.toContain('--socket');
    expect([flag('--fd'), flag('--address'), flag('--netmask'), flag('--gateway'), flag('--dns-forward')]).toEqual(['3', '10.0.2.15', '24', '10.0.2.2', '10.0.2.3']);
    expect([flag('--tcp-ports'), flag('--udp-ports'), flag('--mtu')]).toEqual(['80,8080', '53', '65520']);
    expect(args).toContain('--foreground');
    const none = buildPasstArgs(3, []);
    expect([none[none.indexOf('--tcp-ports') + 1], none[none.indexOf('--udp-ports') + 1]]).toEqual(['none', 'none']);
    // passt's large MTU goes to the guest, which gets no DHCP to learn it
    expect(guestNetSpec('passt')).toBe('10.0.2.15/24 10.0.2.2 65520');
  });

  it("points docker's resolv.conf at QEMU's forwarder, keeping search and options", () => {
    expect(rewriteResolvConf('search corp.example\nnameserver 127.0.0.11\nnameserver 8.8.8.8\noptions ndots:0\n')).toBe(
      'nameserver 10.0.2.3\nsearch corp.example\noptions ndots:0\n',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { buildNetdevArgs, guestNetSpec, rewriteResolvConf } from './guest-network.js';

describe('guest network', () => {
  it('forwards each port from the container to the guest address', () => {
    expect(buildNetdevArgs([{ port: 80, proto: 'tcp' }, { port: 53, proto: 'udp' }])).toEqual([
      '-netdev', 'user,id=n0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,hostfwd=tcp::80-10.0.2.15:80,hostfwd=udp::53-10.0.2.15:53',
      '-device', 'virtio-net-pci,netdev=n0,romfile=',
    ]);
    expect(guestNetSpec()).toBe('10.0.2.15/24 10.0.2.2');
  });

  it("points docker's resolv.conf at QEMU's forwarder, keeping search and options", () => {
    expect(rewriteResolvConf('search corp.example\nnameserver 127.0.0.11\nnameserver 8.8.8.8\noptions ndots:0\n')).toBe(
      'nameserver 10.0.2.3\nsearch corp.example\noptions ndots:0\n',
    );
  });
});

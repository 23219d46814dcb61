/** The VM's side of QEMU user networking: fixed addresses, configured by the init without DHCP. */
export const GUEST_NETWORK = {
  net: '10.0.2.0/24',
  address: '10.0.2.15',
  prefix: 24,
  gateway: '10.0.2.2',
  /** QEMU's DNS forwarder: it asks the resolvers of the container's /etc/resolv.conf (docker's embedded DNS) */
  dns: '10.0.2.3',
} as const;

export type Forward = { port: number; proto: 'tcp' | 'udp' };

/** QEMU flags for the NIC: user networking in the container's network namespace, with the forwarded ports. */
export function buildNetdevArgs(forwards: readonly Forward[]): string[] {
  const g = GUEST_NETWORK;
  const hostfwd = forwards.map((f) => `,hostfwd=${f.proto}::${f.port}-${g.address}:${f.port}`).join('');
  return [
    '-netdev', `user,id=n0,net=${g.net},host=${g.gateway},dns=${g.dns}${hostfwd}`,
    // romfile= : no iPXE option rom (none is needed to boot a kernel directly)
    '-device', 'virtio-net-pci,netdev=n0,romfile=',
  ];
}

/** the init's TAG_NET value */
export function guestNetSpec(): string {
  return `${GUEST_NETWORK.address}/${GUEST_NETWORK.prefix} ${GUEST_NETWORK.gateway}`;
}

/** docker's resolv.conf for the VM: its search and options stay, its nameservers become QEMU's forwarder. */
export function rewriteResolvConf(text: string): string {
  const kept = text.split('\n').filter((line) => !/^\s*nameserver\s/.test(line) && line.trim() !== '');
  return [`nameserver ${GUEST_NETWORK.dns}`, ...kept].join('\n') + '\n';
}

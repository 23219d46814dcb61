import type { Forward } from '../contract/run-plan.js';

/** The VM's side of QEMU user networking: fixed addresses, configured by the init without DHCP. */
const GUEST_NETWORK = {
  net: '10.0.2.0/24',
  address: '10.0.2.15',
  prefix: 24,
  gateway: '10.0.2.2',
  /** QEMU's DNS forwarder: it asks the resolvers of the container's /etc/resolv.conf (docker's embedded DNS) */
  dns: '10.0.2.3',
} as const;


/**
 * Who carries the VM's packets into the container's network namespace:
 * QEMU's own user networking (slirp), or passt (a separate process QEMU talks
 * to over one end of a socket pair, its fd `fd`; passt has the other end). Both
 * give the guest the same addresses.
 */
export type Netdev = { kind: 'slirp' } | { kind: 'passt'; fd: number };

/** the fd at which passt, and QEMU, get their end of the socket pair between them */
export const PASST_PAIR_FD = 3;

/** passt drops root for this uid and gid (nobody), whether or not the image has such a user */
export const PASST_UID = 65534;

/**
 * The uid passt runs as: nobody, where the container's root is the host's (a rootful engine);
 * the container's root where that is an unprivileged user of the host already (a rootless
 * engine, or userns-remap: the container runs in a user namespace of its own). There nobody
 * may not even search the root folder (rootless Podman's vfs storage makes it 0700), and passt's
 * sandbox fails ("Failed to mount empty tmpfs for pivot_root(): Permission denied"). passt
 * still drops its capabilities and sandboxes itself in namespaces of its own either way.
 */
export function passtUid(uidMap: string): number {
  return hostRootIsOurs(uidMap) ? PASST_UID : 0;
}

/** /proc/self/uid_map maps our uid 0 to the host's uid 0: no user namespace between us and the host */
export function hostRootIsOurs(uidMap: string): boolean {
  return uidMap.split('\n').some((line) => /^\s*0\s+0\s+\d+/.test(line));
}

/** passt's largest MTU: fewer, bigger packets through the emulated NIC */
const PASST_MTU = 65520;

/** QEMU flags for the NIC in the container's network namespace, with the forwarded ports. */
export function buildNetdevArgs(forwards: readonly Forward[], backend: Netdev = { kind: 'slirp' }): string[] {
  const g = GUEST_NETWORK;
  const hostfwd = forwards.map((f) => `,hostfwd=${f.proto}::${f.port}-${g.address}:${f.port}`).join('');
  const netdev = backend.kind === 'passt' ? `stream,id=n0,server=off,addr.type=fd,addr.str=${backend.fd}` : `user,id=n0,net=${g.net},host=${g.gateway},dns=${g.dns}${hostfwd}`;
  return [
    '-netdev', netdev,
    // romfile= : no iPXE option rom (none is needed to boot a kernel directly)
    '-device', 'virtio-net-pci,netdev=n0,romfile=',
  ];
}

/**
 * passt's flags: its end of the socket pair to QEMU (made before both start, so
 * QEMU need not wait for passt to listen: ~40 ms of its start here), the guest
 * addresses of QEMU's user networking (so the guest is set up the same way for
 * both), DNS sent to GUEST_NETWORK.dns forwarded to the container's resolver
 * (docker's embedded DNS), and the published ports.
 */
export function buildPasstArgs(fd: number, forwards: readonly Forward[], uid: number = PASST_UID): string[] {
  const g = GUEST_NETWORK;
  const ports = (proto: Forward['proto']): string => forwards.filter((f) => f.proto === proto).map((f) => f.port).join(',') || 'none';
  return [
    '--foreground', '--quiet', '--stderr',
    '--fd', String(fd),
    '--address', g.address, '--netmask', String(g.prefix), '--gateway', g.gateway,
    '--dns-forward', g.dns,
    '--mtu', String(PASST_MTU),
    '--ipv4-only',
    // by number: images need not have a "nobody" user
    '--runas', `${uid}:${uid}`,
    '--tcp-ports', ports('tcp'),
    '--udp-ports', ports('udp'),
  ];
}

/** the init's TAG_NET value */
export function guestNetSpec(backend: Netdev['kind'] = 'slirp'): string {
  const base = `${GUEST_NETWORK.address}/${GUEST_NETWORK.prefix} ${GUEST_NETWORK.gateway}`;
  return backend === 'passt' ? `${base} ${PASST_MTU}` : base;
}

/** docker's resolv.conf for the VM: its search and options stay, its nameservers become QEMU's forwarder. */
export function rewriteResolvConf(text: string): string {
  const kept = text.split('\n').filter((line) => !/^\s*nameserver\s/.test(line) && line.trim() !== '');
  return `${[`nameserver ${GUEST_NETWORK.dns}`, ...kept].join('\n')}\n`;
}

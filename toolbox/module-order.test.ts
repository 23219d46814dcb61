import { describe, expect, it } from 'vitest';
import { moduleLoadOrder, moduleName, parseModulesBuiltin, parseModulesDep } from './module-order.js';

const DEP = `kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/fs/fuse/fuse.ko:
kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
`;

describe('module load order', () => {
  it('puts every dependency before the module that needs it, once', () => {
    const order = moduleLoadOrder(parseModulesDep(DEP), ['virtio_pci', 'virtio_console', 'virtiofs']).map(moduleName);
    expect(order).toEqual(['virtio', 'virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'virtio_console', 'fuse', 'virtiofs']);
  });

  it('skips built-in modules and fails on unknown ones', () => {
    const deps = parseModulesDep(DEP);
    const builtin = parseModulesBuiltin('kernel/drivers/net/virtio_net.ko\n');
    expect(moduleLoadOrder(deps, ['virtio_net'], builtin)).toEqual([]);
    expect(() => moduleLoadOrder(deps, ['nosuch'], builtin)).toThrow(/nosuch is neither in modules.dep nor built in/);
  });

  it('names modules as modprobe does', () => {
    expect(moduleName('kernel/net/ipv4/netfilter/nf-nat.ko.xz')).toBe('nf_nat');
  });
});

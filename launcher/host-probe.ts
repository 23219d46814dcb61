/**
 * One look at the engine's host, from a helper container on the engine (the
 * client may be far from it): the CPU's virtualization, the kvm modules,
 * /dev/kvm (opened read-write from the container, its mode and group), nested
 * virtualization, whether a CAP_SYS_ADMIN container may mount, free space and
 * the toolbox's versions. `testin doctor` shows all of it; a run's accelerator
 * decision (engine-kvm.ts) keeps the KVM facts of it.
 */
import type { HostKvmFacts } from '../contract/accel.js';
import type { DockerClient } from '../contract/docker-client.js';
import { TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from '../contract/layout.js';
import { runHelper } from '../toolbox/helper-container.js';
import { KVM_DEVICE, VM_CONTAINER_APPARMOR, VM_CONTAINER_CAPS } from './vm-container.js';


/** what the helper container saw of the engine's host */
export interface HostProbe {
  cpuVirt: string;
  kvmModules: string[];
  device: 'present' | 'none';
  deviceRw: boolean;
  deviceMode?: string | undefined;
  deviceGid?: string | undefined;
  nested?: string | undefined;
  mount: boolean;
  freeKiB?: number | undefined;
  toolboxKiB?: number | undefined;
  qemu?: string | undefined;
  virtiofsd?: string | undefined;
  /** the helper got /dev/kvm from the engine */
  deviceGiven: boolean;
}

const B = `${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.busybox}`;
/** the probe: key=value lines, read by parseHostProbe; B is the toolbox's busybox, or empty for the commands of a Debian image */
export const HOST_PROBE = `
echo "cpu_virt=$($B grep -m1 -owE 'vmx|svm' /proc/cpuinfo)"
echo "kvm_modules=$(for m in kvm kvm_intel kvm_amd kvm_pvm; do [ -d /sys/module/$m ] && printf '%s,' $m; done)"
if [ -c /dev/kvm ]; then echo device=present; if (exec 3<>/dev/kvm) 2>/dev/null; then echo device_rw=1; else echo device_rw=0; fi; echo "device_mode=$($B stat -c %A /dev/kvm)"; echo "device_gid=$($B stat -c %g /dev/kvm)"; else echo device=none; fi
echo "nested=$($B cat /sys/module/kvm_intel/parameters/nested /sys/module/kvm_amd/parameters/nested 2>/dev/null | $B head -1)"
if $B mkdir -p /tmp/testin-m && $B mount -t tmpfs t /tmp/testin-m; then echo mount=1; else echo mount=0; fi
D=${TOOLBOX_MOUNT}; [ -d $D ] || D=/
echo "free_kib=$($B df -k $D | $B tail -1 | $B awk '{print $4}')"
[ -d ${TOOLBOX_MOUNT} ] && echo "toolbox_kib=$($B du -sk ${TOOLBOX_MOUNT} | $B cut -f1)"
echo "qemu=$($B grep -o '"qemu": *"[^"]*"' ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.manifest} | $B head -1 | $B cut -d'"' -f4)"
echo "virtiofsd=$($B grep -o '"virtiofsd": *"[^"]*"' ${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.manifest} | $B head -1 | $B cut -d'"' -f4)"
`;

export function parseHostProbe(output: string, deviceGiven: boolean): HostProbe | undefined {
  const kv = new Map<string, string>();
  for (const line of output.split('\n')) {
    const m = /^([a-z_]+)=(.*)$/.exec(line.trim());
    if (m) kv.set(m[1] as string, m[2] as string);
  }
  // the probe's own lines are missing (its shell did not run): nothing was seen
  if (!kv.has('kvm_modules')) return undefined;
  const num = (k: string): number | undefined => (kv.get(k) && /^\d+$/.test(kv.get(k) as string) ? Number(kv.get(k)) : undefined);
  return {
    cpuVirt: kv.get('cpu_virt') ?? '',
    kvmModules: (kv.get('kvm_modules') ?? '').split(',').filter(Boolean),
    device: kv.get('device') === 'present' ? 'present' : 'none',
    deviceRw: kv.get('device_rw') === '1',
    deviceMode: kv.get('device_mode') || undefined,
    deviceGid: kv.get('device_gid') || undefined,
    nested: kv.get('nested') || undefined,
    mount: kv.get('mount') === '1',
    freeKiB: num('free_kib'),
    toolboxKiB: num('toolbox_kib'),
    qemu: kv.get('qemu') || undefined,
    virtiofsd: kv.get('virtiofsd') || undefined,
    deviceGiven,
  };
}

/** What decides the accelerator, from a look: vmx/svm (or their modules), and a /dev/kvm containers can open. */
export function kvmFacts(probe: HostProbe): HostKvmFacts {
  return {
    hardwareVirt: probe.cpuVirt !== '' || probe.kvmModules.some((m) => m === 'kvm_intel' || m === 'kvm_amd'),
    devKvm:
      probe.device === 'none'
        ? "the engine's host has no /dev/kvm (no kvm module, or no nested virtualization)"
        : probe.deviceRw
          ? true
          : `/dev/kvm on the engine host (${probe.deviceMode ?? '?'}, gid ${probe.deviceGid ?? '?'}) cannot be opened read-write by containers (crw-rw-rw- or the kvm group)`,
  };
}

/**
 * Runs the look in a helper container with the toolbox (for its busybox), or, before a toolbox
 * exists, in the toolbox's Debian base image (its own commands); with /dev/kvm when the engine
 * has one to give. A container the engine will not start throws its refusal.
 */
export async function probeHost(docker: DockerClient, from: { toolboxVolume: string } | { baseImage: string }, purpose: string): Promise<HostProbe | undefined> {
  const look = async (device: boolean): Promise<HostProbe | undefined> => {
    const r = await runHelper(docker, {
      purpose,
      ...('toolboxVolume' in from
        ? { argv: [B, 'sh', '-c', `B=${B}\n${HOST_PROBE}`], mounts: [{ type: 'volume' as const, source: from.toolboxVolume, target: TOOLBOX_MOUNT, readOnly: true }] }
        : { image: from.baseImage, argv: ['sh', '-c', `B=\n${HOST_PROBE}`], mounts: [] }),
      devices: device ? [KVM_DEVICE] : [],
      // the rights and the network a run's container gets: the look sees what a run would meet
      capAdd: [...VM_CONTAINER_CAPS],
      securityOpt: [VM_CONTAINER_APPARMOR],
      network: 'default',
    });
    return parseHostProbe(r.output, device);
  };
  // "error gathering device information while adding custom device /dev/kvm": an engine whose host has none refuses it
  return look(true).catch(() => look(false));
}

/**
 * What every container that runs a VM has, whoever starts it (`testin run` and `up`,
 * `testin compose`, and what else comes: an OCI runtime): built once, from the plan,
 * here (testcontainers builds its create options and labels once). The callers
 * translate it: run-container.ts into the engine's create options, compose-override.ts
 * into a compose service. The host probe gives its look the same rights.
 */
import type { ContainerMount } from '../contract/docker-client.js';
import { stopGraceMs } from '../contract/exit-codes.js';
import { createLabels } from '../contract/labels.js';
import { CONTAINER_INIT_PATH, KERNEL_STAGING, MODULES_STAGING, SNAPSHOT_DIR, TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from '../contract/layout.js';
import type { RunPlan } from '../contract/run-plan.js';
import { seccompProfile } from '../contract/seccomp-profile.js';

/**
 * container-init mounts (the root's bind for virtiofsd, the volumes into it): CAP_SYS_ADMIN, which
 * docker's AppArmor profile would still refuse mount. And Docker's default set, named, because
 * Podman's default set is smaller: virtiofsd's sandbox keeps CAP_MKNOD for its child and fails
 * ("can't apply the child capabilities") where the container's bounding set lacks it.
 */
export const VM_CONTAINER_CAPS = ['SYS_ADMIN', 'MKNOD', 'AUDIT_WRITE', 'NET_RAW'] as const;
export const VM_CONTAINER_APPARMOR = 'apparmor=unconfined';
/** the device a VM's container gets where KVM is used */
export const KVM_DEVICE = '/dev/kvm';

/** who the container is for: its labels, composed in one call */
export type VmContainerOwner =
  /** a run of this client: reaped by this host once its process is gone (kept: --rm=false, no owner, docker rm removes it) */
  | { kind: 'run'; runId: string; kept?: boolean }
  /** a detached run (-d): it outlives its client, no owner; `testin ls` lists it with its size */
  | { kind: 'detached'; runId: string; cpus: string; memory: string; accel: string }
  /** a session: persistent ones carry no owner (no later run may take them for leftovers) */
  | { kind: 'session'; name: string; cpus: string; memory: string; persistent: boolean }
  /** a compose service: compose owns it */
  | { kind: 'compose' };

export interface VmContainerInput {
  /** /dev/kvm goes in (the engine's host has it, and the run uses KVM) */
  kvm: boolean;
  /** the volumes it mounts: the toolbox, the kernel's modules, the snapshots, a user's kernel */
  volumes: { toolbox: string; modules?: string | undefined; snapshots?: string | undefined; kernel?: string | undefined };
  owner: VmContainerOwner;
}

export interface VmContainer {
  entrypoint: string[];
  capAdd: string[];
  devices: string[];
  /** AppArmor unconfined; testin's seccomp profile when passt carries the VM's packets (its sandbox needs pivot_root) */
  security: { apparmor: string; seccomp?: ReturnType<typeof seccompProfile> | undefined };
  labels: Record<string, string>;
  mounts: ContainerMount[];
  /** seconds docker stop (and compose down, and a session's down) leaves container-init before SIGKILL */
  stopTimeoutS: number;
  /** what docker stop sends container-init, whatever the image's STOPSIGNAL: it gives the command the plan's stop signal */
  stopSignal: 'SIGTERM';
}

export function vmContainer(plan: RunPlan, input: VmContainerInput): VmContainer {
  const { volumes, owner } = input;
  const mounts: ContainerMount[] = [
    { type: 'volume', source: volumes.toolbox, target: TOOLBOX_MOUNT, readOnly: true },
    ...(volumes.kernel ? [{ type: 'volume' as const, source: volumes.kernel, target: KERNEL_STAGING, readOnly: true }] : []),
    ...(volumes.modules ? [{ type: 'volume' as const, source: volumes.modules, target: MODULES_STAGING, readOnly: true }] : []),
    // read-write: the first run of each VM shape saves its snapshot there
    ...(plan.snapshot && volumes.snapshots ? [{ type: 'volume' as const, source: volumes.snapshots, target: SNAPSHOT_DIR, readOnly: false }] : []),
  ];
  return {
    // testin's own PID 1 (the agent's --init, not the engine's: Podman may have no catatonit): a signal before
    // container-init has its handlers ends the run instead of vanishing
    entrypoint: [`${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.agent}`, '--init', CONTAINER_INIT_PATH],
    capAdd: [...VM_CONTAINER_CAPS],
    devices: input.kvm ? [KVM_DEVICE] : [],
    security: { apparmor: VM_CONTAINER_APPARMOR, seccomp: plan.network.nic && plan.network.backend === 'passt' && !plan.noVm ? seccompProfile() : undefined },
    labels: ownerLabels(owner),
    mounts,
    stopTimeoutS: Math.ceil(stopGraceMs(plan) / 1000),
    stopSignal: 'SIGTERM',
  };
}

function ownerLabels(owner: VmContainerOwner): Record<string, string> {
  switch (owner.kind) {
    case 'run':
      return createLabels({ run: owner.runId }, { owner: owner.kept !== true });
    case 'detached':
      return createLabels({ run: owner.runId, detached: owner.runId, sessionCpus: owner.cpus, sessionMemory: owner.memory, accel: owner.accel });
    case 'session':
      return createLabels({ run: owner.name, session: owner.name, sessionCpus: owner.cpus, sessionMemory: owner.memory }, { owner: !owner.persistent });
    case 'compose':
      return createLabels({ compose: '1' });
  }
}

/** The security options as the engine's API takes them (the profile inline) or compose does (`seccomp` names a file). */
export function securityOptions(vm: VmContainer, seccompFile?: string): string[] {
  if (!vm.security.seccomp) return [vm.security.apparmor];
  return [vm.security.apparmor, `seccomp=${seccompFile ?? JSON.stringify(vm.security.seccomp)}`];
}

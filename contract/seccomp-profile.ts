/**
 * The seccomp profile of a VM run's container when passt carries the VM's
 * network. Docker's default profile refuses pivot_root to everyone, and passt
 * confines itself with pivot_root into an empty folder, so under that profile
 * passt exits before the VM boots. This profile allows what a container with
 * CAP_SYS_ADMIN may already do under docker's (mount, unshare, setns, clone
 * with namespaces) plus pivot_root, and refuses, as docker's does, the calls
 * that reach deep into the host kernel: modules, kexec, keys, bpf, perf,
 * ptrace and the other process' memory, the clock, swap, reboot.
 *
 * In a VM run only testin's own binaries (node, QEMU, virtiofsd, passt) run in
 * the container; the image's programs run in the VM. A --no-vm run keeps
 * docker's default profile.
 */
export const DENIED_SYSCALLS = [
  // kernel modules and other kernels
  'init_module', 'finit_module', 'delete_module', 'create_module', 'query_module', 'get_kernel_syms', 'kexec_load', 'kexec_file_load',
  // the kernel's key store, bpf, perf, the kernel log
  'add_key', 'request_key', 'keyctl', 'bpf', 'perf_event_open', 'lookup_dcookie', 'syslog',
  // other processes' memory
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp',
  // files by handle (the way out of a bind mount), quotas, accounting
  'open_by_handle_at', 'name_to_handle_at', 'quotactl', 'acct', 'nfsservctl',
  // the host's clock, swap, power, terminals
  'settimeofday', 'stime', 'clock_settime', 'clock_adjtime', 'adjtimex', 'swapon', 'swapoff', 'reboot', 'vhangup',
  // obsolete or hardware-level
  'uselib', 'ustat', 'sysfs', '_sysctl', 'iopl', 'ioperm', 'vm86', 'vm86old', 'userfaultfd',
] as const;

const EPERM = 1;

export function seccompProfile(): { defaultAction: string; syscalls: { names: string[]; action: string; errnoRet: number }[] } {
  return { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }] };
}

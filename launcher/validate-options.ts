import { existsSync } from 'node:fs';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { UsageError } from '../contract/errors.js';
import { checkMemorySwap, parseMemoryMiB } from '../contract/run-plan.js';
import { resolveProcessSettings } from './build-plan.js';
import { referenceProblem } from './image-pull.js';
import { platformArch } from './guest-arch.js';
import { RUN_OPTIONS, type RunOptions, type RunOptionTable } from '../contract/run-options.js';


/** Checks what can be checked without Docker, before anything is started. */
export function validateRunOptions(options: RunOptions): void {
  if (!options.image) throw new UsageError('no image given', 'name one as docker does, e.g. testin run debian:12 uname -a (or --image debian:12 -- uname -a)');
  const badImage = referenceProblem(options.image);
  if (badImage) throw new UsageError(`invalid reference format: "${options.image}": ${badImage}`, 'name the image as docker does, e.g. debian:12, myapp:dev or registry.example:5000/team/app@sha256:...');
  if (options.command && options.command.length === 0) {
    throw new UsageError('the command after -- is empty', "put a command after --, or leave out -- to run the image's own command");
  }
  if (options.command?.[0] === '') throw new UsageError('the command after -- is an empty string', 'name the program to run after --');
  // docker's --cpus is CPU time and may be a fraction: the VM gets that many vCPUs rounded up, the container around it that much time
  if (options.cpus !== undefined && !(typeof options.cpus === 'number' && options.cpus >= 0.01 && options.cpus <= 64)) {
    throw new UsageError(`invalid --cpus ${String(options.cpus)}`, 'give a number of CPUs from 0.01 to 64 (1.5: two vCPUs held to 1.5 CPUs of time, as docker holds a container)');
  }
  if (options.memory !== undefined) parseMemoryMiB(options.memory);
  if (options.memorySwap !== undefined) checkMemorySwap(options.memorySwap, options.memory);
  if (options.workdir !== undefined && !options.workdir.startsWith('/')) {
    throw new UsageError(`the working directory '${options.workdir}' is invalid, it needs to be an absolute path`, `give one from the image's root, e.g. -w /${options.workdir.replace(/^\.?\/*/, '')}`);
  }
  if (options.stopTimeout !== undefined && !(Number.isFinite(options.stopTimeout) && options.stopTimeout >= 0)) {
    throw new UsageError(`invalid --stop-timeout ${String(options.stopTimeout)}`, 'give a number of seconds, 0 or more');
  }
  if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
    throw new UsageError(`invalid --timeout ${String(options.timeout)}`, 'give a duration such as 30s, 5m or 1h');
  }
  if (options.pidsLimit !== undefined && !(Number.isInteger(options.pidsLimit) && options.pidsLimit >= -1 && options.pidsLimit <= 4194304)) {
    throw new UsageError(`invalid --pids-limit ${String(options.pidsLimit)}`, 'give a whole number of processes, or -1 for no limit');
  }
  if (options.boot !== undefined && options.pidsLimit !== undefined && options.pidsLimit > 0) {
    throw new UsageError("--pids-limit with --boot: the image's init manages the VM's cgroups", "set TasksMax= in its units (systemd), or drop --boot");
  }
  if (options.boot !== undefined && options.noVm) throw new UsageError('--boot boots the image\'s init in a VM: --no-vm has none', 'drop --no-vm, or --boot');
  if (options.bootTimeout !== undefined && !(Number.isFinite(options.bootTimeout) && options.bootTimeout > 0)) {
    throw new UsageError(`invalid --boot-timeout ${String(options.bootTimeout)}`, 'give a duration such as 30s or 5m');
  }
  if ((options.initrd || options.modules) && !options.kernel) {
    throw new UsageError('--initrd and --modules go with --kernel', "add --kernel PATH, or drop them to boot the toolbox's kernel");
  }
  if (options.kernel && options.noVm) throw new UsageError('--kernel and --no-vm exclude each other', 'drop one of them');
  platformArch(options.platform);
  for (const [key, spec] of Object.entries(RUN_OPTIONS as RunOptionTable)) {
    const value = options[key as keyof RunOptions];
    if (spec.choices && value !== undefined && !(spec.choices as readonly unknown[]).includes(value)) {
      throw new UsageError(`invalid --${spec.flag} ${String(value)}`, `use one of ${spec.choices.join(', ')}`);
    }
  }
  // docker's own rules, checked before the engine is asked (it would refuse them after the toolbox and the plan)
  if (options.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(options.name)) {
    throw new UsageError(`invalid --name "${options.name}"`, 'use letters, digits, _ . and -, starting with a letter or digit');
  }
  if (options.hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(options.hostname)) {
    throw new UsageError(`invalid --hostname "${options.hostname}"`, 'use at most 64 letters, digits, . and -, starting with a letter or digit');
  }
  // the kernel's limit (__NEW_UTS_LEN); docker passes it on and the runtime fails at start
  if (options.domainname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,63})$/.test(options.domainname)) {
    throw new UsageError(`invalid --domainname "${options.domainname}"`, 'use at most 64 letters, digits, . and -, starting with a letter or digit');
  }
  // --cap-*, --ulimit, --sysctl, --shm-size, --security-opt: their one-line errors before anything starts
  resolveProcessSettings(options);
  validateNetworkOptions(options);
  // docker refuses a --cidfile that exists before it creates anything (another container's ID may be in it)
  if (options.cidfile === '') throw new UsageError('--cidfile: no file named', 'delete it, or name a file that does not exist');
  if (options.cidfile !== undefined && existsSync(options.cidfile)) throw cidfileExists(options.cidfile);
}

/** docker's refusal of a --cidfile that exists (before the container is made, and should one appear meanwhile) */
export function cidfileExists(path: string): UsageError {
  return new UsageError(`--cidfile ${path}: the file exists (another container's ID?)`, 'delete it, or name a file that does not exist');
}

/** the networks docker gives no aliases or chosen addresses on: its defaults and another container's */
const BUILT_IN_NETWORKS = new Set(['bridge', 'default', 'host', 'none']);

/** --dns, --network-alias, --ip and --ip6 as docker checks them, before the engine is asked */
function validateNetworkOptions(options: RunOptions): void {
  for (const server of options.dns ?? []) {
    if (!isIP(server)) throw new UsageError(`--dns ${server}: not an IP address`, "give the DNS server's address, e.g. --dns 192.0.2.53");
  }
  if (options.ip !== undefined && !isIPv4(options.ip)) throw new UsageError(`--ip ${options.ip}: not an IPv4 address`, 'give one of the network\'s subnet, e.g. --ip 172.20.0.5');
  if (options.ip6 !== undefined && !isIPv6(options.ip6)) throw new UsageError(`--ip6 ${options.ip6}: not an IPv6 address`, 'give one of the network\'s IPv6 subnet, e.g. --ip6 fd00::5');
  for (const link of options.links ?? []) {
    if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*(:[a-zA-Z0-9][a-zA-Z0-9_.-]*)?$/.test(link)) throw new UsageError(`--link ${link}: not NAME or NAME:ALIAS`, 'write --link db or --link db:database');
  }
  const chosen = [...(options.networkAliases?.length ? ['--network-alias'] : []), ...(options.ip !== undefined ? ['--ip'] : []), ...(options.ip6 !== undefined ? ['--ip6'] : [])];
  const network = options.network ?? 'bridge';
  if (chosen.length && (BUILT_IN_NETWORKS.has(network) || network.startsWith('container:'))) {
    throw new UsageError(`${chosen.join(' and ')} ${chosen.length === 1 ? 'needs' : 'need'} a user-defined network: the container is on ${network}`, 'create one (docker network create NET) and add --network NET');
  }
}

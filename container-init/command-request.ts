/** The EXEC requests container-init sends the VM's init: the run's command, and each command of a session. */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ExecRequest } from '../contract/control-protocol.js';
import { mergeRlimits, type PlanRlimit } from '../contract/process-settings.js';
import type { RunPlan } from '../contract/run-plan.js';
import type { SessionExecRequest } from '../contract/session-protocol.js';
import { guestNetSpec } from './guest-network.js';
import { readText } from './prepare-root.js';
import { resolveGroupAdd, resolveUser } from './resolve-user.js';
import { parentsFirst, shareCaches } from './virtiofsd-args.js';

/** The command's environment: the plan's, plus HOME and HOSTNAME as docker sets them. */
function commandEnv(plan: RunPlan, home: string): string[] {
  const env = [...plan.env];
  const has = (k: string): boolean => env.some((e) => e.startsWith(`${k}=`));
  if (!has('HOSTNAME')) env.unshift(`HOSTNAME=${plan.hostname ?? hostname()}`);
  if (!has('HOME')) env.push(`HOME=${home}`);
  return env;
}

/** K=V lists: later entries win, order kept */
function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const env = new Map(base.map((e) => [e.slice(0, e.indexOf('=')), e] as const));
  for (const e of overrides) env.set(e.includes('=') ? e.slice(0, e.indexOf('=')) : e, e);
  return [...env.values()];
}

/** users and groups as the image knows them (its /etc, seen from `root`), with --group-add's groups */
function lookupUser(user: string, root: string, plan: RunPlan): ReturnType<typeof resolveUser> {
  const groupText = readText(join(root, 'etc/group'));
  const who = resolveUser(user, readText(join(root, 'etc/passwd')), groupText);
  const added = resolveGroupAdd(plan.process?.groupAdd ?? [], groupText);
  return { ...who, groups: [...new Set([...who.groups, ...added])] };
}

/**
 * The command's capabilities, no_new_privs and rlimits, as the plan says (every command of a session too);
 * the limits --ulimit leaves are the container's (`inherited`), as docker's process gets them
 */
function processSettings(plan: RunPlan, inherited: readonly PlanRlimit[] = []): ExecRequest['process'] {
  const p = plan.process;
  const rlimits = mergeRlimits(inherited, p?.rlimits);
  if (!p && !rlimits.length) return undefined;
  return { capabilities: p?.capabilities, noNewPrivileges: p?.noNewPrivileges, rlimits: rlimits.length ? rlimits : undefined };
}

export interface RequestContext {
  /** the image's root as container-init sees it */
  root: string;
  /** the NIC's backend, as the plan has it; absent: no NIC (or no VM) */
  netBackend?: RunPlan['network']['backend'] | undefined;
  tty?: { rows: number; cols: number } | undefined;
  /** the user's volumes served by a virtiofsd of their own (see shareCaches) */
  volumes?: ExecRequest['volumes'];
  /** the modprobe the guest's kernel calls (guestModprobe); absent: the guest looks */
  modprobe?: ExecRequest['modprobe'];
  /** the container's own limits (parseProcLimits), for those --ulimit does not set */
  rlimits?: readonly PlanRlimit[] | undefined;
  /** the container's NIS domain name (/proc/sys/kernel/domainname: docker's --domainname, compose's domainname:) */
  domainname?: string | undefined;
}

/**
 * Pure: the VM's machine settings with the container's NIS domain name set in its kernel first, so
 * that a --sysctl kernel.domainname=... of the user's, later, wins; "(none)" is the kernel's word for none.
 */
export function withDomainname(machine: RunPlan['machine'], domainname: string | undefined): RunPlan['machine'] {
  const name = domainname?.trim();
  if (!name || name === '(none)') return machine;
  return { ...machine, sysctls: [['kernel.domainname', name], ...(machine?.sysctls ?? [])] };
}

/** The run's own command (throws UserLookupError for a user the image lacks). */
export function commandRequest(plan: RunPlan, ctx: RequestContext): ExecRequest {
  const user = lookupUser(plan.user, ctx.root, plan);
  return {
    argv: plan.argv,
    env: commandEnv(plan, user.home),
    cwd: plan.cwd,
    uid: user.uid,
    gid: user.gid,
    groups: user.groups,
    hostname: plan.hostname ?? hostname(),
    stdin: plan.stdin,
    net: ctx.netBackend ? guestNetSpec(ctx.netBackend) : undefined,
    // published ports come in through the backend, which must know the guest's address first
    announce: ctx.netBackend !== undefined && plan.network.forwards.length > 0,
    modprobe: ctx.modprobe,
    tty: ctx.tty,
    tmpfs: plan.tmpfs,
    volumes: ctx.volumes,
    process: processSettings(plan, ctx.rlimits),
    machine: withDomainname(plan.machine, ctx.domainname),
  };
}

/**
 * The modprobe the guest's kernel calls, as the image is seen from container-init (the
 * container's root is the image's): its own /sbin/modprobe, else the toolbox's static one.
 * A volume at /sbin or /usr may hide the image's: the guest looks then, as it sees the root.
 */
export function guestModprobe(plan: RunPlan, mirror: readonly { path: string }[], executable: (path: string) => boolean, toolboxModprobe: string): ExecRequest['modprobe'] {
  const targets = [...plan.mounts.map((m) => m.target), ...mirror.map((m) => m.path)];
  if (targets.some((t) => t === '/' || ['/sbin', '/usr'].some((dir) => t === dir || t.startsWith(`${dir}/`)))) return undefined;
  if (executable('/sbin/modprobe')) return 'image';
  return executable(toolboxModprobe) ? 'toolbox' : 'image';
}

/** One command of a session, as a client asked for it. */
export function sessionRequest(plan: RunPlan, root: string, req: SessionExecRequest, rlimits?: readonly PlanRlimit[]): ExecRequest {
  if (!req.argv?.length) throw new Error('no command');
  const who = lookupUser(req.user ?? plan.user, root, plan);
  return {
    argv: req.argv,
    env: mergeEnv(commandEnv(plan, who.home), req.env ?? []),
    cwd: req.cwd ?? plan.cwd,
    uid: who.uid,
    gid: who.gid,
    groups: who.groups,
    stdin: req.stdin ?? false,
    tty: req.tty,
    tmpfs: [],
    process: processSettings(plan, rlimits),
  };
}

/**
 * The user's volumes and binds (and compose's, mirrored), when they are served
 * by a virtiofsd of their own: the init binds each from that share.
 */
export function guestVolumes(plan: RunPlan, mirror: readonly { path: string; readOnly: boolean }[], resolve: (target: string) => string = (t) => t): ExecRequest['volumes'] {
  const targets = [...plan.mounts.map((m) => ({ target: resolve(m.target), readOnly: m.readOnly })), ...mirror.map((m) => ({ target: resolve(m.path), readOnly: m.readOnly }))];
  return shareCaches(plan.fsCache, targets.length > 0).volumes ? parentsFirst(targets) : undefined;
}

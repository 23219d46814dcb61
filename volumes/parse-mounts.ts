import { isAbsolute, posix, resolve } from 'node:path';
import type { ContainerMountInfo } from '../contract/docker-client.js';
import { UsageError } from '../contract/errors.js';

/** One user mount, in docker's terms. */
export type MountSpec =
  | { type: 'bind'; source: string; target: string; readOnly: boolean; /** -v creates a missing host folder, --mount does not */ createSource: boolean }
  | {
      type: 'volume';
      /** absent: an anonymous volume, removed with the container */
      source?: string;
      target: string;
      readOnly: boolean;
      /** nocopy (-v) or volume-nocopy (--mount): an empty volume does not get the image's content at its target */
      noCopy?: boolean;
    }
  | { type: 'tmpfs'; target: string; options: string };

/** docker's default tmpfs flags */
const TMPFS_DEFAULT_OPTIONS = 'nosuid,nodev,noexec';

/** the flag's own form, for a fix */
const TARGET_EXAMPLE: Record<string, string> = { '-v': '-v ./data:/data', '--mount': '--mount type=bind,source=./data,target=/data', '--tmpfs': '--tmpfs /data' };

function checkTarget(target: string, flag: '-v' | '--mount' | '--tmpfs'): string {
  if (!target) throw new UsageError(`${flag}: no path in the VM${flag === '--mount' ? ' (target=)' : ''}`, `name one, e.g. ${TARGET_EXAMPLE[flag]}`);
  if (!posix.isAbsolute(target)) throw new UsageError(`${flag}: the path in the VM "${target}" is not absolute`, `write it as /path, e.g. ${TARGET_EXAMPLE[flag]}`);
  const clean = posix.normalize(target).replace(/\/+$/, '');
  if (clean === '') throw new UsageError(`${flag}: cannot mount over /`, 'pick a folder below /');
  return clean;
}

/** `-v SRC:DST[:ro|rw,...]`, `-v NAME:DST`, `-v DST` (anonymous volume). */
export function parseVolumeFlag(text: string, cwd: string): MountSpec {
  const parts = text.split(':');
  if (parts.length === 1) return { type: 'volume', target: checkTarget(parts[0] as string, '-v'), readOnly: false };
  if (parts.length > 3) throw new UsageError(`-v ${text}: too many colons`, 'write -v SOURCE:TARGET[:ro]');
  const [source = '', target = '', opts = ''] = parts;
  const options = opts.split(',').filter(Boolean);
  const propagation = options.find((o) => PROPAGATIONS.includes(o) && !PROPAGATION_TAKEN.includes(o));
  if (propagation) throw propagationRefused(`-v ${text}`, propagation, `:${propagation}`);
  const unknown = options.filter((o) => !['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', ...PROPAGATION_TAKEN].includes(o));
  if (unknown.length) throw new UsageError(`-v ${text}: unknown option "${unknown[0]}"`, 'use ro or rw');
  const readOnly = options.includes('ro');
  if (source === '') throw new UsageError(`-v ${text}: the source is empty`, 'write -v SOURCE:TARGET');
  const isPath = source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
  if (isPath && options.includes('nocopy')) throw new UsageError(`-v ${text}: nocopy is for volumes, not a folder of the host`, 'drop :nocopy, as docker wants it');
  if (isPath) return { type: 'bind', source: hostPath(source, cwd), target: checkTarget(target, '-v'), readOnly, createSource: true };
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source)) throw new UsageError(`-v ${text}: "${source}" is neither a path nor a volume name`, 'start host paths with / or ./');
  return { type: 'volume', source, target: checkTarget(target, '-v'), readOnly, ...(options.includes('nocopy') ? { noCopy: true } : {}) };
}

/** docker's mount propagations; only its default, rprivate (and private), is the VM's: mounts made on either side would have to cross virtio-fs */
const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const PROPAGATION_TAKEN = ['private', 'rprivate'];

/** `said`: the propagation as the flag gave it; `drop`: what to take out */
function propagationRefused(flag: string, said: string, drop: string): UsageError {
  return new UsageError(`${flag}: ${said}: a mount's propagation does not reach into a VM (its mounts come through virtio-fs)`, `drop ${drop} (rprivate, docker's default, is what the VM has)`);
}

/** the --mount keys testin takes (consistency: docker's too, and as meaningless on Linux) */
const MOUNT_KEYS = new Set(['type', 'source', 'src', 'target', 'destination', 'dst', 'readonly', 'ro', 'tmpfs-size', 'tmpfs-mode', 'consistency', 'volume-nocopy', 'bind-propagation']);
/** docker's keys that testin does not take (yet): refused by name rather than dropped in silence */
const DOCKER_ONLY_KEYS = new Set(['volume-driver', 'volume-opt', 'volume-label', 'volume-subpath', 'bind-nonrecursive', 'bind-recursive', 'bind-create-src']);

/** `--mount type=bind|volume|tmpfs,source=..,target=..[,readonly][,tmpfs-size=..][,tmpfs-mode=..]` */
export function parseMountFlag(text: string, cwd: string): MountSpec {
  const fields = new Map<string, string>();
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim();
    if (DOCKER_ONLY_KEYS.has(key)) {
      throw new UsageError(`--mount ${text}: testin does not take ${key}= (yet)`, key.startsWith('volume-') ? 'make the volume first (docker volume create --driver ... --opt ... NAME) and mount it by name' : `drop ${key}=`);
    }
    if (!MOUNT_KEYS.has(key)) throw new UsageError(`--mount ${text}: unknown key "${key}"`, 'use type, source, target, readonly, tmpfs-size, tmpfs-mode');
    fields.set(key, eq < 0 ? 'true' : item.slice(eq + 1));
  }
  const get = (...keys: string[]): string | undefined => keys.map((k) => fields.get(k)).find((v) => v !== undefined);
  const type = get('type') ?? 'volume';
  const target = checkTarget(get('target', 'destination', 'dst') ?? '', '--mount');
  // a key with no value, or any value but false and 0, is on
  const on = (value: string | undefined): boolean => value !== undefined && value !== 'false' && value !== '0';
  const readOnly = on(get('readonly', 'ro'));
  const source = get('source', 'src');
  const propagation = get('bind-propagation');
  if (propagation !== undefined && (type !== 'bind' || !PROPAGATION_TAKEN.includes(propagation))) throw propagationRefused(`--mount ${text}`, `bind-propagation=${propagation}`, 'bind-propagation=');
  const nocopy = get('volume-nocopy');
  if (nocopy !== undefined && type !== 'volume') throw new UsageError(`--mount ${text}: volume-nocopy is for type=volume`, 'drop volume-nocopy');
  if (type === 'bind') {
    if (!source) throw new UsageError(`--mount ${text}: a bind mount needs source=`, 'add source=/host/path');
    return { type, source: hostPath(source, cwd), target, readOnly, createSource: false };
  }
  if (type === 'volume') {
    const noCopy = on(nocopy) ? { noCopy: true } : {};
    return source ? { type, source, target, readOnly, ...noCopy } : { type, target, readOnly, ...noCopy };
  }
  if (type === 'tmpfs') {
    const size = get('tmpfs-size');
    const mode = get('tmpfs-mode');
    const options = [TMPFS_DEFAULT_OPTIONS, ...(readOnly ? ['ro'] : []), ...(size ? [`size=${size}`] : []), ...(mode ? [`mode=${mode}`] : [])].join(',');
    return { type, target, options };
  }
  throw new UsageError(`--mount ${text}: unknown type "${type}"`, 'use type=bind, type=volume or type=tmpfs');
}

/** `--tmpfs DST[:opts]` */
export function parseTmpfsFlag(text: string): MountSpec {
  const colon = text.indexOf(':');
  const target = checkTarget(colon < 0 ? text : text.slice(0, colon), '--tmpfs');
  const extra = colon < 0 ? '' : text.slice(colon + 1);
  return { type: 'tmpfs', target, options: [TMPFS_DEFAULT_OPTIONS, extra].filter(Boolean).join(',') };
}

function hostPath(source: string, cwd: string): string {
  const expanded = source.startsWith('~') ? `${process.env.HOME ?? ''}${source.slice(1)}` : source;
  return isAbsolute(expanded) ? posix.normalize(expanded).replace(/(.)\/+$/, '$1') : resolve(cwd, expanded);
}

/** All mounts of a run, checked for two mounts on one path as docker does. */
export function parseMounts(flags: { volumes?: readonly string[]; mounts?: readonly string[]; tmpfs?: readonly string[] }, cwd: string): MountSpec[] {
  const specs = [
    ...(flags.volumes ?? []).map((v) => parseVolumeFlag(v, cwd)),
    ...(flags.mounts ?? []).map((m) => parseMountFlag(m, cwd)),
    ...(flags.tmpfs ?? []).map(parseTmpfsFlag),
  ];
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.target)) throw new UsageError(`duplicate mount point ${spec.target}`, 'mount one thing per path');
    seen.add(spec.target);
  }
  return specs;
}

/** `--volumes-from CONTAINER[:ro|rw]`: the container and the mode that overrides each mount's own */
export function parseVolumesFrom(text: string): { container: string; mode?: 'ro' | 'rw' | undefined } {
  const colon = text.lastIndexOf(':');
  const [container, mode] = colon < 0 ? [text, undefined] : [text.slice(0, colon), text.slice(colon + 1)];
  if (!container) throw new UsageError(`--volumes-from ${text}: no container named`, 'write --volumes-from CONTAINER[:ro|rw]');
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new UsageError(`--volumes-from ${text}: unknown mode "${mode}"`, 'use :ro or :rw (or none: each mount as the container has it)');
  return { container, mode };
}

/**
 * The binds and volumes of another container (docker inspect's Mounts) as this run's mounts, at
 * the same paths, as docker's --volumes-from takes them: its tmpfs and other kinds stay behind, a
 * mode given overrides each one's own, and a path this run mounts itself keeps this run's.
 */
export function volumesFromSpecs(mounts: readonly ContainerMountInfo[], mode: 'ro' | 'rw' | undefined, taken: ReadonlySet<string>): MountSpec[] {
  const specs: MountSpec[] = [];
  for (const m of mounts) {
    const target = posix.normalize(m.destination).replace(/(.)\/+$/, '$1');
    if (taken.has(target) || specs.some((s) => s.target === target)) continue;
    const readOnly = mode === undefined ? !m.rw : mode === 'ro';
    if (m.type === 'bind') specs.push({ type: 'bind', source: m.source, target, readOnly, createSource: false });
    else if (m.type === 'volume' && m.name) specs.push({ type: 'volume', source: m.name, target, readOnly });
  }
  return specs;
}

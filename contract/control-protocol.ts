/**
 * The control protocol spoken with the in-VM init over the "testin.ctl" port.
 * Mirror of initfs/protocol.h: change both together.
 *
 * frame  = u32le length (of everything after it) | u8 type | u32le id | payload
 * fields = repeated (u8 tag | u32le length | bytes); numbers inside are u32le.
 */
import { kernelRandomBytes } from './kernel-random.js';

export const MessageType = {
  exec: 0x01,
  stdin: 0x02,
  signal: 0x03,
  poweroff: 0x04,
  resize: 0x05,
  dmesg: 0x06,
  dial: 0x07,
  hello: 0x81,
  started: 0x82,
  stdout: 0x83,
  stderr: 0x84,
  exit: 0x85,
  error: 0x86,
  ports: 0x87,
} as const;

export const Tag = {
  arg: 1,
  env: 2,
  cwd: 3,
  uid: 4,
  gid: 5,
  group: 6,
  hostname: 7,
  stdin: 8,
  tmpfs: 10,
  clock: 11,
  tty: 12,
  net: 13,
  volume: 14,
  tunnel: 15,
  port: 16,
  conn: 17,
  seed: 18,
  boot: 19,
  release: 20,
  uptimeMs: 21,
  code: 22,
  signo: 23,
  message: 24,
  rootMs: 25,
  sysctl: 26,
  rlimit: 27,
  caps: 28,
  noNewPrivs: 29,
  shmSize: 30,
  announce: 31,
  modprobe: 32,
  steps: 33,
  fresh: 34,
  carry: 35,
  ownDir: 36,
  device: 37,
  pidsLimit: 38,
} as const;

/** Tag.modprobe's values: the modprobe the guest's kernel calls */
export const Modprobe = { toolbox: 1, image: 2 } as const;

const HEADER = 9;
/** what the guest writes first on a tunnel connection: token, connection number (u32le), 0 if the server took it */
export const TUNNEL_TOKEN_LEN = 16;
export const TUNNEL_HELLO_LEN = TUNNEL_TOKEN_LEN + 5;
export const FRAME_MAX = 1 << 24;

export interface Frame {
  type: number;
  id: number;
  payload: Buffer;
}

export type FieldValue = string | number | Buffer;
export type Field = [tag: number, value: FieldValue];

export function encodeFrame(type: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(payload.length + 5, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32LE(id, 5);
  return Buffer.concat([head, payload]);
}

export function encodeFields(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, value] of fields) {
    const bytes = valueBytes(value);
    const head = Buffer.alloc(5);
    head.writeUInt8(tag, 0);
    head.writeUInt32LE(bytes.length, 1);
    parts.push(head, bytes);
  }
  return Buffer.concat(parts);
}

function valueBytes(value: FieldValue): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Buffer.isBuffer(value)) return value;
  const n = Buffer.alloc(4);
  n.writeUInt32LE(value >>> 0, 0);
  return n;
}

/** Decodes fields into a map from tag to every value seen (repeated tags keep their order). */
export function decodeFields(payload: Buffer): Map<number, Buffer[]> {
  const fields = new Map<number, Buffer[]>();
  let off = 0;
  while (off + 5 <= payload.length) {
    const tag = payload.readUInt8(off);
    const len = payload.readUInt32LE(off + 1);
    if (off + 5 + len > payload.length) throw new Error(`truncated field ${tag}`);
    const list = fields.get(tag) ?? [];
    list.push(payload.subarray(off + 5, off + 5 + len));
    fields.set(tag, list);
    off += 5 + len;
  }
  return fields;
}

export function fieldNumber(fields: Map<number, Buffer[]>, tag: number): number | undefined {
  const value = fields.get(tag)?.[0];
  return value && value.length === 4 ? value.readUInt32LE(0) : undefined;
}

export function fieldString(fields: Map<number, Buffer[]>, tag: number): string | undefined {
  return fields.get(tag)?.[0]?.toString('utf8');
}

/** Splits a byte stream into frames; feed it chunks as they arrive. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.#pending.length >= 4) {
      const len = this.#pending.readUInt32LE(0);
      if (len < 5 || len > FRAME_MAX) throw new Error(`bad control frame length ${len}`);
      if (this.#pending.length < 4 + len) break;
      frames.push({
        type: this.#pending.readUInt8(4),
        id: this.#pending.readUInt32LE(5),
        payload: this.#pending.subarray(HEADER, 4 + len),
      });
      this.#pending = this.#pending.subarray(4 + len);
    }
    return frames;
  }
}

export interface ExecRequest {
  argv: readonly string[];
  env: readonly string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: readonly number[];
  hostname?: string | undefined;
  stdin: boolean;
  /** "address/prefix gateway" of the VM's NIC; absent: no NIC */
  net?: string | undefined;
  /** the run publishes ports: the guest makes itself known to the gateway at once, not at its first packet (passt learns its address from it) */
  announce?: boolean | undefined;
  /** the modprobe the guest's kernel calls: the toolbox's when the image has none; absent: the guest looks (a round trip to virtiofsd per path) */
  modprobe?: keyof typeof Modprobe | undefined;
  /** run the command on a pty of this size */
  tty?: { rows: number; cols: number } | undefined;
  /** tmpfs mounts the VM's init makes in guest memory */
  tmpfs: readonly { target: string; options: string }[];
  /**
   * the user's volumes and binds, parents first: the init binds each from the
   * second virtiofs share ("vol", its own cache policy) over the root's view of it
   */
  volumes?: readonly { target: string; readOnly: boolean }[] | undefined;
  /** report the ports the guest listens on and dial back to this port of the gateway (see port-forwarder.ts) */
  tunnel?: { port: number; token: Buffer } | undefined;
  /** the first EXEC of --boot: after the set-up this program (the image's init) becomes PID 1, the init serving beside it */
  boot?: string | undefined;
  /** the command's capabilities (hex mask kept), no_new_privs and rlimits */
  process?: { capabilities?: string | undefined; noNewPrivileges?: boolean | undefined; rlimits?: readonly { resource: number; soft: number; hard: number }[] | undefined } | undefined;
  /** the first EXEC: sysctls and /dev/shm's size, set before any command */
  machine?: { sysctls?: readonly (readonly [string, string])[] | undefined; shmSizeBytes?: number | undefined; devices?: readonly string[] | undefined; pidsLimit?: number | undefined } | undefined;
  /** the first EXEC: the image's content of the VM's fresh /run and /tmp, and the mounts to bind again over them (container-init/fresh-dirs.ts) */
  fresh?: FreshDirs | undefined;
}

/** one entry of the image's /run or /tmp, made again by the guest in its fresh tmpfs */
export interface FreshEntry {
  type: 'dir' | 'link' | 'file';
  /** absolute, in the VM */
  path: string;
  mode: number;
  uid: number;
  gid: number;
  /** a link's target, a file's content */
  data?: Buffer | undefined;
}

export interface FreshDirs {
  /** parents before what is in them */
  entries: readonly FreshEntry[];
  /** the folders ('/run', '/tmp') kept as the image's own, through virtiofs (too much to send) */
  own: readonly string[];
  /** the mounts under them, bound again over them, parents first */
  carry: readonly string[];
}

const FRESH_TYPES = { dir: 'd', link: 'l', file: 'f' } as const;

/** Pure: a FreshEntry as its field, "TYPE MODE UID GID PATH\0DATA" (MODE in octal) */
export function encodeFreshEntry(e: FreshEntry): Buffer {
  return Buffer.concat([Buffer.from(`${FRESH_TYPES[e.type]} ${e.mode.toString(8)} ${e.uid} ${e.gid} ${e.path}\0`), e.data ?? Buffer.alloc(0)]);
}

/** the signals container-init passes on to the command in the VM, by number */
export const FORWARDED_SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15, SIGUSR1: 10, SIGUSR2: 12 };

export function encodeSignal(id: number, signo: number): Buffer {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(signo, 0);
  return encodeFrame(MessageType.signal, id, n);
}

export function encodeResize(id: number, rows: number, cols: number): Buffer {
  return encodeFrame(MessageType.resize, id, u32pair(rows, cols));
}

function u32pair(a: number, b: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeUInt32LE(a, 0);
  buf.writeUInt32LE(b, 4);
  return buf;
}

export function encodeExec(id: number, req: ExecRequest): Buffer {
  const fields: Field[] = [
    ...req.argv.map((a): Field => [Tag.arg, a]),
    ...req.env.map((e): Field => [Tag.env, e]),
    [Tag.cwd, req.cwd],
    [Tag.uid, req.uid],
    [Tag.gid, req.gid],
    ...req.groups.map((g): Field => [Tag.group, g]),
    [Tag.stdin, req.stdin ? 1 : 0],
    ...req.tmpfs.map((t): Field => [Tag.tmpfs, `${t.target}\0${t.options}`]),
    ...(req.volumes ?? []).map((v): Field => [Tag.volume, `${v.target}\0${v.readOnly ? 'ro' : 'rw'}`]),
    [Tag.clock, String(Date.now())],
    // a VM restored from a snapshot must not replay its random state: fresh entropy with every command
    [Tag.seed, kernelRandomBytes(32).toString('hex')],
  ];
  if (req.net) fields.push([Tag.net, req.net]);
  if (req.announce) fields.push([Tag.announce, 1]);
  if (req.modprobe) fields.push([Tag.modprobe, Modprobe[req.modprobe]]);
  if (req.tty) fields.push([Tag.tty, ((req.tty.rows & 0xffff) << 16) | (req.tty.cols & 0xffff)]);
  if (req.hostname) fields.push([Tag.hostname, req.hostname]);
  if (req.boot) fields.push([Tag.boot, req.boot]);
  if (req.tunnel) fields.push([Tag.tunnel, `${req.tunnel.port} ${req.tunnel.token.toString('hex')}`]);
  const p = req.process;
  if (p?.capabilities !== undefined) fields.push([Tag.caps, p.capabilities]);
  if (p?.noNewPrivileges) fields.push([Tag.noNewPrivs, 1]);
  for (const r of p?.rlimits ?? []) fields.push([Tag.rlimit, `${r.resource} ${r.soft} ${r.hard}`]);
  for (const [key, value] of req.machine?.sysctls ?? []) fields.push([Tag.sysctl, `${key}=${value}`]);
  if (req.machine?.shmSizeBytes) fields.push([Tag.shmSize, String(req.machine.shmSizeBytes)]);
  for (const device of req.machine?.devices ?? []) fields.push([Tag.device, device]);
  if (req.machine?.pidsLimit) fields.push([Tag.pidsLimit, req.machine.pidsLimit]);
  for (const e of req.fresh?.entries ?? []) fields.push([Tag.fresh, encodeFreshEntry(e)]);
  for (const target of req.fresh?.carry ?? []) fields.push([Tag.carry, target]);
  for (const dir of req.fresh?.own ?? []) fields.push([Tag.ownDir, dir]);
  return encodeFrame(MessageType.exec, id, encodeFields(fields));
}

/** DIAL: connection `conn` came in on `port`: the guest connects to it and back to the tunnel */
export function encodeDial(port: number, conn: number): Buffer {
  return encodeFrame(MessageType.dial, 0, encodeFields([[Tag.port, port], [Tag.conn, conn]]));
}

/** the TCP ports of a PORTS message */
export function decodePorts(payload: Buffer): number[] {
  return (decodeFields(payload).get(Tag.port) ?? []).filter((v) => v.length === 4).map((v) => v.readUInt32LE(0));
}

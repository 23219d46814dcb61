import { describe, expect, it } from 'vitest';
import { FrameReader, MessageType, Modprobe, Tag, decodeFields, decodePorts, encodeDial, encodeExec, encodeFields, encodeFrame, fieldNumber, fieldString } from './control-protocol.js';

describe('control protocol framing', () => {
  it('writes length, type and id little-endian before the payload', () => {
    const frame = encodeFrame(MessageType.stdout, 7, Buffer.from('hi'));
    expect([...frame]).toEqual([7, 0, 0, 0, 0x83, 7, 0, 0, 0, 0x68, 0x69]);
  });

  it('reassembles frames split at every byte boundary', () => {
    const stream = Buffer.concat([
      encodeFrame(MessageType.stdout, 0, Buffer.from('out')),
      encodeFrame(MessageType.stderr, 0, Buffer.alloc(70000, 7)),
      encodeFrame(MessageType.exit, 0, encodeFields([[Tag.code, 42]])),
    ]);
    for (const cut of [1, 5, 9, 13, 4096, stream.length - 1]) {
      const reader = new FrameReader();
      const frames = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      expect(frames.map((f) => f.type)).toEqual([MessageType.stdout, MessageType.stderr, MessageType.exit]);
      expect(frames[1]?.payload.length).toBe(70000);
      expect(fieldNumber(decodeFields(frames[2]?.payload), Tag.code)).toBe(42);
    }
  });

  it('rejects a frame length that cannot be valid', () => {
    const bad = Buffer.from([2, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(() => new FrameReader().push(bad)).toThrow(/bad control frame length 2/);
  });

  it('encodes an EXEC request with repeated fields in order', () => {
    const frame = encodeExec(3, {
      argv: ['sh', '-c', 'echo "a b"'],
      env: ['A=1', 'B=x=y'],
      cwd: '/srv',
      uid: 1000,
      gid: 2000,
      groups: [2000, 27],
      hostname: 'box',
      stdin: true,
      tmpfs: [{ target: '/scratch', options: 'nosuid,size=1m' }],
    });
    const [parsed] = new FrameReader().push(frame);
    expect(parsed?.type).toBe(MessageType.exec);
    expect(parsed?.id).toBe(3);
    const fields = decodeFields(parsed?.payload);
    expect(fields.get(Tag.arg)?.map(String)).toEqual(['sh', '-c', 'echo "a b"']);
    expect(fields.get(Tag.env)?.map(String)).toEqual(['A=1', 'B=x=y']);
    expect(fieldString(fields, Tag.cwd)).toBe('/srv');
    expect(fieldNumber(fields, Tag.uid)).toBe(1000);
    expect(fields.get(Tag.group)?.map((b) => b.readUInt32LE(0))).toEqual([2000, 27]);
    expect(fieldNumber(fields, Tag.stdin)).toBe(1);
    expect(fieldString(fields, Tag.hostname)).toBe('box');
    expect(fieldString(fields, Tag.tmpfs)).toBe('/scratch\0nosuid,size=1m');
    expect(Math.abs(Number(fieldString(fields, Tag.clock)) - Date.now())).toBeLessThan(5000);
  });

  it("carries docker's process settings: capabilities kept, no_new_privs, rlimits, sysctls, /dev/shm's size", () => {
    const base = { argv: ['true'], env: [], cwd: '/', uid: 0, gid: 0, groups: [], stdin: false, tmpfs: [] };
    const fields = decodeFields(new FrameReader().push(encodeExec(1, {
      ...base,
      process: { capabilities: '2000', noNewPrivileges: true, rlimits: [{ resource: 7, soft: 1024, hard: -1 }] },
      machine: { sysctls: [['net.ipv4.ip_forward', '1'], ['kernel.shmmni', '8192']], shmSizeBytes: 268435456, pidsLimit: 64 },
    }))[0]?.payload);
    expect([fieldString(fields, Tag.caps), fieldNumber(fields, Tag.noNewPrivs), fieldString(fields, Tag.rlimit), fieldString(fields, Tag.shmSize), fieldNumber(fields, Tag.pidsLimit)]).toEqual(['2000', 1, '7 1024 -1', '268435456', 64]);
    expect(fields.get(Tag.sysctl)?.map(String)).toEqual(['net.ipv4.ip_forward=1', 'kernel.shmmni=8192']);
    // nothing asked, nothing sent: the init keeps every capability and the machine as it is
    const plain = decodeFields(new FrameReader().push(encodeExec(2, base))[0]?.payload);
    expect([Tag.caps, Tag.noNewPrivs, Tag.rlimit, Tag.sysctl, Tag.shmSize, Tag.pidsLimit].filter((t) => plain.has(t))).toEqual([]);
  });

  it("says whether the guest announces itself and which modprobe its kernel calls, and nothing when not asked", () => {
    const base = { argv: ['true'], env: [], cwd: '/', uid: 0, gid: 0, groups: [], stdin: false, tmpfs: [] };
    const asked = decodeFields(new FrameReader().push(encodeExec(1, { ...base, announce: true, modprobe: 'toolbox' }))[0]?.payload);
    expect([fieldNumber(asked, Tag.announce), fieldNumber(asked, Tag.modprobe)]).toEqual([1, Modprobe.toolbox]);
    const image = decodeFields(new FrameReader().push(encodeExec(1, { ...base, announce: false, modprobe: 'image' }))[0]?.payload);
    expect([image.has(Tag.announce), fieldNumber(image, Tag.modprobe)]).toEqual([false, Modprobe.image]);
    const plain = decodeFields(new FrameReader().push(encodeExec(2, base))[0]?.payload);
    expect([plain.has(Tag.announce), plain.has(Tag.modprobe)]).toEqual([false, false]);
  });

  it('detects a truncated field', () => {
    const fields = encodeFields([[Tag.message, 'hello']]);
    expect(() => decodeFields(fields.subarray(0, fields.length - 1))).toThrow(/truncated/);
  });

  it('sends the tunnel as "PORT TOKENHEX" in EXEC, and a DIAL as a port and a connection number', () => {
    const token = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const exec = new FrameReader().push(encodeExec(0, { argv: [], env: [], cwd: '/', uid: 0, gid: 0, groups: [], stdin: false, tmpfs: [], tunnel: { port: 40123, token } }))[0];
    expect(fieldString(decodeFields(exec?.payload ?? Buffer.alloc(0)), Tag.tunnel)).toBe('40123 00112233445566778899aabbccddeeff');
    const [dial] = new FrameReader().push(encodeDial(8080, 7));
    expect(dial?.type).toBe(MessageType.dial);
    const fields = decodeFields(dial?.payload ?? Buffer.alloc(0));
    expect([fieldNumber(fields, Tag.port), fieldNumber(fields, Tag.conn)]).toEqual([8080, 7]);
  });

  it('reads the ports of a PORTS message, an empty one as none', () => {
    expect(decodePorts(encodeFields([[Tag.port, 80], [Tag.port, 5432]]))).toEqual([80, 5432]);
    expect(decodePorts(Buffer.alloc(0))).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { FrameReader, MessageType, Tag, decodeFields, encodeExec, encodeFields, encodeFrame, fieldNumber, fieldString } from './control-protocol.js';

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

  it('detects a truncated field', () => {
    const fields = encodeFields([[Tag.message, 'hello']]);
    expect(() => decodeFields(fields.subarray(0, fields.length - 1))).toThrow(/truncated/);
  });
});

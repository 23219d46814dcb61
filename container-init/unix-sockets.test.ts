import { describe, expect, it } from 'vitest';
import { listeningUnixSockets } from './unix-sockets.js';

describe('listeningUnixSockets', () => {
  it('keeps the paths whose flags say listening, and skips bound-only and unnamed sockets', () => {
    const text = [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '00000000aea90b17: 00000002 00000000 00010000 0001 01 919231 /run/testin/fs.sock',
      '0000000011111111: 00000002 00000000 00000000 0001 01 919232 /run/testin/passt/passt.sock',
      '000000008a2450c1: 00000003 00000000 00000000 0001 03 1729503',
      '0000000022222222: 00000002 00000000 00010000 0001 01 919233 /tmp/a path with spaces.sock',
      '',
    ].join('\n');
    expect([...listeningUnixSockets(text)]).toEqual(['/run/testin/fs.sock', '/tmp/a path with spaces.sock']);
  });
});

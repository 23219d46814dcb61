import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileFromTar, tarOf } from './tar.js';

describe('tars for the engine', () => {
  it('streams folders, bytes and files of the client, and one file can be read back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-test-'));
    try {
      writeFileSync(join(dir, 'big'), Buffer.alloc(300_000, 7));
      const tar = tarOf([
        { kind: 'dir', name: 'run/testin' },
        { kind: 'data', name: 'run/testin/plan.json', data: '{"a":1}' },
        { kind: 'file', name: 'run/testin/big', path: join(dir, 'big') },
      ]);
      const chunks: Buffer[] = [];
      for await (const c of tar) chunks.push(c as Buffer);
      const whole = Buffer.concat(chunks);
      const { Readable } = await import('node:stream');
      expect((await readFileFromTar(Readable.from([whole]), 'plan.json'))?.toString()).toBe('{"a":1}');
      expect((await readFileFromTar(Readable.from([whole]), 'big'))?.length).toBe(300_000);
      expect(await readFileFromTar(Readable.from([whole]), 'missing')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

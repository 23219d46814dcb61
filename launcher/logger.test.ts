import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../contract/errors.js';
import { createLogger, formatTextLine } from './logger.js';

describe('formatTextLine', () => {
  it('prints level, message and fields on one line', () => {
    expect(formatTextLine('{"level":30,"msg":"toolbox volume reused","volume":"v1","n":2}')).toBe('testin[info]: toolbox volume reused volume=v1 n=2\n');
  });
});

describe('createLogger', () => {
  const sink = (): { stream: Writable; text: () => string } => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    return { stream, text: () => chunks.join('') };
  };

  it('writes the messages at its level and above, as text lines, and none below', () => {
    const out = sink();
    const logger = createLogger('info', 'text', out.stream);
    logger.debug('not shown');
    logger.info({ volume: 'v1' }, 'toolbox volume reused');
    logger.warn('a warning');
    expect(out.text()).toBe('testin[info]: toolbox volume reused volume=v1\ntestin[warn]: a warning\n');
  });

  it('writes JSON lines with --log-format json, and nothing at all when silent', async () => {
    const out = sink();
    createLogger('warn', 'json', out.stream).warn({ container: 'c1' }, 'could not remove the container');
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(out.text())).toMatchObject({ level: 40, msg: 'could not remove the container', container: 'c1' });
    const quiet = sink();
    const silent = createLogger('silent', 'text', quiet.stream);
    silent.warn('no');
    silent.info('no');
    expect(quiet.text()).toBe('');
  });

  it('refuses an unknown level at once, with the levels it knows', () => {
    expect(() => createLogger('verbose')).toThrow(UsageError);
    expect(() => createLogger('verbose')).toThrow(/unknown log level "verbose"/);
  });
});

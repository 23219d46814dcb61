import { describe, expect, it } from 'vitest';
import { ResultSplitter, newResultMark, stdinLease } from './run-lease.js';
import { collectInto } from './output-sinks.js';

const MARK = '\x1etestin-result-0123456789abcdef01234567:';

/** feeds `chunks` to a splitter; what it passed on (chunk by chunk), and the result */
function split(chunks: (string | Buffer)[]): { passed: string[]; result: string | undefined } {
  const passed: string[] = [];
  const splitter = new ResultSplitter(Buffer.from(MARK), (chunk) => passed.push(chunk.toString('latin1')));
  for (const chunk of chunks) splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'));
  return { passed, result: splitter.end() };
}

describe("the run's result taken off stderr after its mark", () => {
  it('passes every byte before the mark on at once, and keeps what follows it as the result', () => {
    expect(split(['err\n', `more${MARK}{"a":1}\n`])).toEqual({ passed: ['err\n', 'more'], result: '{"a":1}' });
  });

  it('finds a mark split across chunks, byte by byte too', () => {
    const text = `out\n${MARK}{"restored":true}\n`;
    expect(split([text.slice(0, 6), text.slice(6, 20), text.slice(20)])).toEqual({ passed: ['out\n'], result: '{"restored":true}' });
    const bytes = split([...text]);
    expect(bytes.passed.join('')).toBe('out\n');
    expect(bytes.result).toBe('{"restored":true}');
  });

  it("holds back only bytes that may begin the mark, and passes them on once they do not (the user's \\x1e is theirs)", () => {
    const r = split(['a\x1etest', 'ing\n', 'b\x1e']);
    expect(r.passed).toEqual(['a', '\x1etesting\n', 'b', '\x1e']);
    expect(r.result).toBeUndefined();
  });

  it('has no result when the mark never came, or its line was cut short', () => {
    expect(split(['plain stderr\n'])).toEqual({ passed: ['plain stderr\n'], result: undefined });
    expect(split([`${MARK}{"cut":`]).result).toBeUndefined();
  });

  it("takes one line as the result and passes on what comes after it (PID 1's word on a late exit)", () => {
    expect(split([`${MARK}{"a":1}\nlate `, 'word\n'])).toEqual({ passed: ['late ', 'word\n'], result: '{"a":1}' });
    expect(split([`${MARK}{"a"`, ':2}\nafter\n'])).toEqual({ passed: ['after\n'], result: '{"a":2}' });
  });

  it('passes binary bytes through unchanged', () => {
    const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256));
    const passed: Buffer[] = [];
    const splitter = new ResultSplitter(Buffer.from(MARK), (chunk) => passed.push(Buffer.from(chunk)));
    for (let at = 0; at < binary.length; at += 100) splitter.push(binary.subarray(at, at + 100));
    expect(splitter.end()).toBeUndefined();
    expect(Buffer.concat(passed).equals(binary)).toBe(true);
  });
});

describe('the lease on the container stdin', () => {
  it("writes the stream to the run's stderr less the result, keeps its stdin open until released", async () => {
    const out: Buffer[] = [];
    const mark = newResultMark();
    const lease = stdinLease(mark, collectInto(out));
    lease.stderr.write(Buffer.from(`warning\n${mark}{"x":2}\n`));
    expect(Buffer.concat(out).toString()).toBe('warning\n');
    expect(await lease.result(0)).toBe('{"x":2}');
    expect(lease.stdin.writableEnded).toBe(false);
    lease.release();
    expect(lease.stdin.writableEnded).toBe(true);
  });

  it('makes a different mark for each run, that begins with a byte text does not have', () => {
    const a = newResultMark();
    expect(a).not.toBe(newResultMark());
    expect(a.charCodeAt(0)).toBe(0x1e);
    expect(a.slice(1)).toMatch(/^testin-result-[0-9a-f]{24}:$/);
  });
});

import { describe, expect, it } from 'vitest';
import { shellWords } from './shell-words.js';

describe('shellWords', () => {
  it.each([
    ['a b  c', ['a', 'b', 'c']],
    [`sh -c 'echo "$X"; exit 3'`, ['sh', '-c', 'echo "$X"; exit 3']],
    [`say "a \\"b\\" c" d\\ e ''`, ['say', 'a "b" c', 'd e', '']],
  ])('%s', (text, words) => expect(shellWords(text)).toEqual(words));

  it('refuses an unclosed quote', () => expect(() => shellWords(`echo 'x`)).toThrow(/unclosed/));
});

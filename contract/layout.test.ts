import { describe, expect, it } from 'vitest';
import { TOOLBOX_LAYOUT, toolboxExec } from './layout.js';

describe('toolboxExec', () => {
  it("runs a toolbox binary through the toolbox's loader and libraries", () => {
    expect(toolboxExec(TOOLBOX_LAYOUT.virtiofsd, '/tb')).toEqual(['/tb/lib/ld.so', '--library-path', '/tb/lib', '/tb/bin/virtiofsd']);
  });

  it('preloads a library of the toolbox when given one', () => {
    expect(toolboxExec(TOOLBOX_LAYOUT.passt, '/tb', TOOLBOX_LAYOUT.hugeBss)).toEqual(['/tb/lib/ld.so', '--library-path', '/tb/lib', '--preload', '/tb/lib/testin-huge-bss.so', '/tb/bin/passt']);
  });
});

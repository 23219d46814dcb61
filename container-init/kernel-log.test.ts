import { describe, expect, it } from 'vitest';
import { oomNotice } from './kernel-log.js';

describe('oomNotice', () => {
  it("says the VM ran out of memory when the guest kernel's OOM killer struck, with twice the memory as the fix", () => {
    const log = '[   12.3] oom-kill:constraint=CONSTRAINT_NONE,task=big\n[   12.3] Out of memory: Killed process 77 (big)\n';
    expect(oomNotice(log, 1024)).toBe(
      "testin: the command was killed by the guest kernel's OOM killer: the VM (1024 MiB) ran out of memory\n  fix: give the VM more, e.g. --memory 2g\n",
    );
    expect(oomNotice(log, 3072)).toContain('--memory 6g');
  });

  it('says nothing for a SIGKILL the OOM killer did not send', () => {
    expect(oomNotice('[ 1.0] virtio_net: ok\n', 1024)).toBeUndefined();
    expect(oomNotice('', 1024)).toBeUndefined();
  });
});

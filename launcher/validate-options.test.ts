import { describe, expect, it } from 'vitest';
import { UsageError } from '../contract/errors.js';
import { validateRunOptions } from './validate-options.js';

describe('validateRunOptions', () => {
  it.each([
    [{ image: '' }, /no image given/],
    [{ image: 'i', command: [] }, /command after -- is empty/],
    [{ image: 'i', cpus: 0 }, /invalid --cpus 0/],
    [{ image: 'i', cpus: 1.5 }, /invalid --cpus 1.5/],
    [{ image: 'i', stopTimeout: -1 }, /invalid --stop-timeout/],
    [{ image: 'i', timeout: 0 }, /invalid --timeout/],
    [{ image: 'i', initrd: '/x' }, /--initrd and --modules go with --kernel/],
    [{ image: 'i', kernel: '/k', noVm: true }, /--kernel and --no-vm exclude each other/],
    [{ image: 'i', accel: 'hvf' as 'kvm' }, /invalid --accel hvf/],
    [{ image: 'i', name: 'bad name!' }, /invalid --name "bad name!"/],
    [{ image: 'i', name: '-dash' }, /invalid --name/],
    [{ image: 'i', hostname: 'h'.repeat(65) }, /invalid --hostname/],
    [{ image: 'i', hostname: 'under_score' }, /invalid --hostname/],
  ])('rejects %j', (options, message) => {
    expect(() => validateRunOptions(options)).toThrow(UsageError);
    expect(() => validateRunOptions(options)).toThrow(message);
  });

  it('accepts a plain run', () => {
    expect(() => validateRunOptions({ image: 'i', command: ['true'], cpus: 2, memory: '1g', timeout: 1000 })).not.toThrow();
    expect(() => validateRunOptions({ image: 'i', name: 'web.1_a-b', hostname: 'vm-1.example' })).not.toThrow();
  });
});

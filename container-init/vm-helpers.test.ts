import { describe, expect, it } from 'vitest';
import type { RunPlan } from '../contract/run-plan.js';
import { PASST_PAIR_FD } from './guest-network.js';
import { helperShape } from './vm-helpers.js';

const plan = (fsCache: RunPlan['fsCache'], network: RunPlan['network']): RunPlan => ({ fsCache, network }) as RunPlan;
const passt: RunPlan['network'] = { nic: true, forwards: [], backend: 'passt' };

describe('helperShape', () => {
  it("names the root's socket, and passt's fd for the VM's NIC", () => {
    expect(helperShape(plan('auto', passt), '/w', false)).toEqual({ fsSocket: '/w/fs.sock', volSocket: undefined, caches: { root: 'always' }, netdev: { kind: 'passt', fd: PASST_PAIR_FD } });
  });

  it('gives volumes that want another cache policy a socket of their own', () => {
    expect(helperShape(plan('never', passt), '/w', true)).toMatchObject({ volSocket: undefined, caches: { root: 'never' } });
    expect(helperShape(plan('auto', passt), '/w', true)).toMatchObject({ volSocket: '/w/fs-vol.sock', caches: { root: 'always', volumes: 'auto' } });
  });

  it('has slirp carry the packets of a VM without passt, and of one without a NIC', () => {
    expect(helperShape(plan('auto', { ...passt, backend: 'slirp' }), '/w', false).netdev).toEqual({ kind: 'slirp' });
    expect(helperShape(plan('auto', { ...passt, nic: false }), '/w', false).netdev).toEqual({ kind: 'slirp' });
  });
});

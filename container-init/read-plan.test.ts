import { describe, expect, it } from 'vitest';
import { RUN_PLAN_ENV, encodePlan } from '../contract/run-plan.js';
import { defaultPlan } from './plan-from-environment.js';
import { readPlan } from './read-plan.js';

describe('readPlan', () => {
  it("takes a run's whole plan from its variable as the launcher made it, and takes the variable away", () => {
    const plan = { ...defaultPlan('6.12'), argv: ['sh', '-c', 'echo "$X"'], env: ['X=a b', 'PATH=/bin'], runId: 'r1' };
    const env: NodeJS.ProcessEnv = { [RUN_PLAN_ENV]: encodePlan(plan), HOME: '/root' };
    // the container's own argv and variables do not change a launcher's plan (they do a compose container's)
    expect(readPlan(['other'], env, '6.12')).toEqual({ plan, mirror: [] });
    expect(env).toEqual({ HOME: '/root' });
  });

  it('refuses a plan of another version in one line, as the file would be', () => {
    expect(() => readPlan([], { [RUN_PLAN_ENV]: JSON.stringify({ ...defaultPlan(undefined), version: 1 }) }, '6.12')).toThrow(/version 1 is not 2/);
  });
});

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { MODULES_STAGING, PLAN_FILE } from '../contract/layout.js';
import { PLAN_ENV, decodePlan, type RunPlan } from '../contract/run-plan.js';
import { planFromEnvironment, userMountPoints } from './plan-from-environment.js';

export interface ReadPlan {
  plan: RunPlan;
  /** started by compose: the container's own mounts, which the VM must see too */
  mirror: { path: string; readOnly: boolean }[];
}

/**
 * The plan as the launcher put it into the container (a file), or as compose
 * carries it (TESTIN_PLAN), or, for a compose file written by hand, built from
 * the container itself (argv, environment, TESTIN_* variables).
 */
export function readPlan(argv: readonly string[], env: NodeJS.ProcessEnv, manifestRelease: string): ReadPlan {
  if (existsSync(PLAN_FILE)) {
    const plan = decodePlan(readFileSync(PLAN_FILE, 'utf8'));
    // a --no-vm command runs in this container: it has no business with the plan
    rmSync(PLAN_FILE, { force: true });
    return { plan, mirror: [] };
  }
  const mirror = userMountPoints(existsSync('/proc/self/mountinfo') ? readFileSync('/proc/self/mountinfo', 'utf8') : '');
  if (env[PLAN_ENV]) return { plan: decodePlan(env[PLAN_ENV] as string), mirror };
  return {
    plan: planFromEnvironment({
      argv,
      env,
      cwd: process.cwd(),
      tty: process.stdout.isTTY === true,
      hostname: hostname(),
      modulesRelease: existsSync(MODULES_STAGING) ? manifestRelease : undefined,
    }),
    mirror,
  };
}

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { MODULES_STAGING, PLAN_FILE } from '../contract/layout.js';
import { PLAN_ENV, RUN_PLAN_ENV, decodePlan, type RunPlan } from '../contract/run-plan.js';
import { applyOverrides, completeFromContainer, defaultPlan, userMountPoints } from './plan-from-environment.js';

export interface ReadPlan {
  plan: RunPlan;
  /** started by compose: the container's own mounts, which the VM must see too */
  mirror: { path: string; readOnly: boolean }[];
}

/**
 * The plan as the launcher put it into the container (a variable, or a file), or as compose
 * carries it (TESTIN_PLAN, completed from the container: see
 * plan-from-environment.ts), or, for a compose file written by hand, the
 * defaults completed the same way.
 */
export function readPlan(argv: readonly string[], env: NodeJS.ProcessEnv, manifestRelease: string): ReadPlan {
  const given = env[RUN_PLAN_ENV];
  if (given !== undefined) {
    // read once: the VM's helpers, which get this process's environment, have no business with it
    delete env[RUN_PLAN_ENV];
    return { plan: decodePlan(given), mirror: [] };
  }
  if (existsSync(PLAN_FILE)) {
    const plan = decodePlan(readFileSync(PLAN_FILE, 'utf8'));
    // a --no-vm command runs in this container: it has no business with the plan
    rmSync(PLAN_FILE, { force: true });
    return { plan, mirror: [] };
  }
  // compose: the plan testin compose made (or none, in a file written by hand), then the container's own facts
  const mirror = userMountPoints(existsSync('/proc/self/mountinfo') ? readFileSync('/proc/self/mountinfo', 'utf8') : '');
  const base = env[PLAN_ENV] ? decodePlan(env[PLAN_ENV] as string) : defaultPlan(existsSync(MODULES_STAGING) ? manifestRelease : undefined);
  const facts = { argv, env, cwd: process.cwd(), tty: process.stdout.isTTY === true, hostname: hostname() };
  return { plan: completeFromContainer(applyOverrides(base, env), facts), mirror };
}

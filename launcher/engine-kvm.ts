/**
 * KVM as the engine's host has it. The launcher may be far from the engine (a
 * remote DOCKER_HOST, a CI job in a container next to the socket), so its own
 * /proc and /dev say nothing: a helper container on the engine looks (CPU
 * flags, /dev/kvm opened read-write) once, and the answer is kept per engine
 * and toolbox. The launcher then decides the accelerator, says why when it is
 * not KVM, and passes /dev/kvm only where the engine's host has one.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HostKvmFacts } from '../contract/accel.js';
import type { DockerClient } from '../contract/docker-client.js';
import type { ToolboxFacts } from '../contract/toolbox-manifest.js';
import { kvmFacts, probeHost } from './host-probe.js';

export interface EngineKvm {
  /** the engine's host has /dev/kvm to give a container */
  device: boolean;
  facts: HostKvmFacts;
}

function recordPath(facts: ToolboxFacts, env: NodeJS.ProcessEnv): string {
  const cache = env.TESTIN_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'testin');
  const engine = env.DOCKER_HOST ?? 'local';
  return join(cache, 'engines', createHash('sha256').update(`${engine}\0${facts.volumeName}`).digest('hex').slice(0, 32));
}

export async function probeEngineKvm(docker: DockerClient, toolbox: ToolboxFacts, env: NodeJS.ProcessEnv = process.env): Promise<EngineKvm> {
  const record = recordPath(toolbox, env);
  if (existsSync(record)) {
    const known = JSON.parse(readFileSync(record, 'utf8')) as EngineKvm;
    if (typeof known.device === 'boolean' && known.facts) return known;
  }
  const seen = await probeHost(docker, { toolboxVolume: toolbox.volumeName }, 'kvm-probe');
  const found: EngineKvm = seen ? { device: seen.deviceGiven, facts: kvmFacts(seen) } : { device: false, facts: { hardwareVirt: false, devKvm: 'the KVM probe printed nothing' } };
  mkdirSync(join(record, '..'), { recursive: true });
  writeFileSync(record, JSON.stringify(found));
  return found;
}

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
import { TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from '../contract/layout.js';
import type { ToolboxFacts } from '../contract/toolbox-manifest.js';
import { runHelper } from '../toolbox/helper-container.js';

export const KVM_DEVICE = '/dev/kvm';

export interface EngineKvm {
  /** the engine's host has /dev/kvm to give a container */
  device: boolean;
  facts: HostKvmFacts;
}

const PROBE = `hw=0
grep -E '^flags' /proc/cpuinfo | grep -qwE 'vmx|svm' && hw=1
{ [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && hw=1
if [ -c ${KVM_DEVICE} ]; then if (exec 3<>${KVM_DEVICE}) 2>/dev/null; then dev=ok; else dev=denied; fi; else dev=none; fi
echo "testin-kvm hw=$hw dev=$dev"`;

/** `testin-kvm hw=1 dev=ok` -> facts */
export function parseKvmProbe(output: string, device: boolean): EngineKvm | undefined {
  const m = /testin-kvm hw=([01]) dev=(ok|denied|none)/.exec(output);
  if (!m) return undefined;
  const devKvm =
    m[2] === 'ok'
      ? (true as const)
      : m[2] === 'denied'
        ? '/dev/kvm on the engine host cannot be opened read-write by containers (check its permissions: crw-rw-rw- or the kvm group)'
        : "the engine's host has no /dev/kvm (no kvm module, or no nested virtualization)";
  return { device, facts: { hardwareVirt: m[1] === '1', devKvm } };
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
  const probe = async (device: boolean): Promise<EngineKvm | undefined> => {
    const r = await runHelper(docker, {
      purpose: 'kvm-probe',
      argv: [`${TOOLBOX_MOUNT}/${TOOLBOX_LAYOUT.busybox}`, 'sh', '-c', PROBE],
      mounts: [{ type: 'volume', source: toolbox.volumeName, target: TOOLBOX_MOUNT, readOnly: true }],
      devices: device ? [KVM_DEVICE] : [],
    });
    return parseKvmProbe(r.output, device);
  };
  // "error gathering device information while adding custom device /dev/kvm": no device there
  const found = (await probe(true).catch(() => undefined)) ?? (await probe(false)) ?? { device: false, facts: { hardwareVirt: false, devKvm: 'the KVM probe printed nothing' } };
  mkdirSync(join(record, '..'), { recursive: true });
  writeFileSync(record, JSON.stringify(found));
  return found;
}

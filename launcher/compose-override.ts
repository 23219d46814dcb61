import type { ImageConfig } from '../contract/docker-client.js';
import { UsageError } from '../contract/errors.js';
import { LABELS } from '../contract/labels.js';
import { CONTAINER_INIT_PATH, MODULES_STAGING, TOOLBOX_MOUNT, WORK_DIR } from '../contract/layout.js';
import { shellWords } from './shell-words.js';

/** The part of a (normalized) compose service that decides how testin runs it. */
export interface ComposeService {
  image?: string;
  entrypoint?: string | string[] | null;
  command?: string | string[] | null;
  user?: string;
  ports?: (string | number | { target: number; protocol?: string })[];
  expose?: (string | number)[];
  network_mode?: string;
}

export interface OverrideInput {
  services: Record<string, ComposeService>;
  /** the services to run in a VM */
  chosen: readonly string[];
  /** .Config of each chosen service's image */
  images: Record<string, ImageConfig>;
  volumes: { toolbox: string; modules: string };
  /** add /dev/kvm (only where KVM is usable on this host) */
  kvm: boolean;
  /**
   * the toolbox carries passt: the VMs' packets go through it, with the seccomp profile it needs
   * (docker-compose 1.x takes a file: `seccomp=PATH`, the profile written by seccompProfile())
   */
  passt?: { seccompOpt: string } | undefined;
  /** the base file's `version:`, which compose 1.x wants repeated in an override */
  version?: string | undefined;
}

const words = (v: string | string[] | null | undefined): string[] | undefined =>
  v === undefined || v === null ? undefined : Array.isArray(v) ? v : shellWords(v);

/** compose ports: "8080", "9000:80", "127.0.0.1:9000:80/udp", {target: 80, protocol: udp} -> "80/udp" */
export function containerPort(port: string | number | { target: number; protocol?: string }): string {
  if (typeof port === 'object') return `${port.target}/${port.protocol ?? 'tcp'}`;
  const [spec = '', proto = 'tcp'] = String(port).split('/');
  return `${spec.split(':').at(-1) as string}/${proto}`;
}

/**
 * An override file for `docker-compose -f compose.yml -f <override>` that runs
 * the chosen services' commands in a VM: container-init as entrypoint, the
 * service's own command as its arguments, the toolbox volumes, and the TESTIN_*
 * variables for what compose cannot say itself. The user's file is untouched.
 */
export function buildComposeOverride(input: OverrideInput): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  for (const name of input.chosen) {
    const svc = input.services[name];
    if (!svc) throw new UsageError(`service "${name}" is not in the compose file`, `pick one of: ${Object.keys(input.services).join(', ')}`);
    const image = input.images[name] ?? {};
    const entrypoint = words(svc.entrypoint) ?? image.Entrypoint ?? [];
    const command = words(svc.command) ?? (svc.entrypoint !== undefined && svc.entrypoint !== null ? [] : (image.Cmd ?? []));
    const argv = [...entrypoint, ...command];
    if (argv.length === 0) throw new UsageError(`service "${name}" has no command and its image none either`, 'give the service a command:');
    const forwards = [...new Set([...(svc.ports ?? []).map(containerPort), ...(svc.expose ?? []).map((e) => containerPort(e)), ...Object.keys(image.ExposedPorts ?? {})])];
    services[name] = {
      entrypoint: [CONTAINER_INIT_PATH],
      command: argv,
      // container-init needs root for its mounts; the command runs as the service's user
      user: 'root',
      environment: {
        TESTIN_USER: svc.user ?? image.User ?? '',
        ...(forwards.length ? { TESTIN_FORWARD: forwards.join(' ') } : {}),
        ...(svc.network_mode === 'none' ? { TESTIN_NETWORK: 'none' } : input.passt ? { TESTIN_NET_BACKEND: 'passt' } : {}),
        TESTIN_STOP_TIMEOUT: '10',
      },
      cap_add: ['SYS_ADMIN'],
      security_opt: ['apparmor=unconfined', ...(input.passt && svc.network_mode !== 'none' ? [input.passt.seccompOpt] : [])],
      ...(input.kvm ? { devices: ['/dev/kvm'] } : {}),
      tmpfs: [`${WORK_DIR}:exec,mode=755`],
      volumes: [`${input.volumes.toolbox}:${TOOLBOX_MOUNT}:ro`, `${input.volumes.modules}:${MODULES_STAGING}:ro`],
      stop_grace_period: '15s',
      labels: { [LABELS.compose]: '1' },
    };
  }
  return {
    ...(input.version ? { version: input.version } : {}),
    services,
    volumes: { [input.volumes.toolbox]: { external: true }, [input.volumes.modules]: { external: true } },
  };
}

import { UsageError } from '../contract/errors.js';
import { parseExposed, parsePort, splitProto, type Forward, type Proto } from '../contract/run-plan.js';

export interface PortBinding {
  /** port inside the VM (and the container) */
  port: number;
  proto: Proto;
  /** host port; '' lets docker pick one */
  hostPort: string;
  hostIp: string;
}

/** docker's -p: PORT, HOSTPORT:PORT, IP:HOSTPORT:PORT, IP::PORT, each with an optional /tcp or /udp. */
export function parsePublish(text: string): PortBinding {
  const [spec, proto] = splitProto(text);
  const parts = spec.split(':');
  if (parts.length > 3) throw new UsageError(`invalid -p ${text}`, 'write -p HOSTPORT:PORT[/tcp|udp]');
  const port = parsePort(parts.at(-1) ?? '', 'port');
  const hostPort = parts.length >= 2 ? (parts.at(-2) as string) : '';
  if (hostPort !== '') parsePort(hostPort, 'host port');
  return { port, proto, hostPort, hostIp: parts.length === 3 ? (parts[0] as string) : '' };
}

export interface PortPlan {
  /** docker's ExposedPorts and PortBindings for the container */
  exposedPorts: Record<string, Record<string, never>>;
  portBindings: Record<string, { HostIp: string; HostPort: string }[]>;
  /** ports QEMU forwards from the container into the VM */
  forwards: Forward[];
}

/**
 * Every port a service offers (-p, --expose, the image's EXPOSE) is forwarded
 * from the container into the VM, so docker's publishing and sibling containers
 * reach a server in the VM as they would reach one in the container.
 */
export function planPorts(publish: readonly string[], expose: readonly string[], imageExposed: readonly string[], publishAll: boolean): PortPlan {
  const bindings = publish.map(parsePublish);
  const exposed = [...expose, ...imageExposed].map(parseExposed);
  const plan: PortPlan = { exposedPorts: {}, portBindings: {}, forwards: [] };
  const key = (p: { port: number; proto: Proto }): string => `${p.port}/${p.proto}`;
  for (const p of [...bindings, ...exposed]) {
    if (plan.exposedPorts[key(p)]) continue;
    plan.exposedPorts[key(p)] = {};
    plan.forwards.push({ port: p.port, proto: p.proto });
  }
  for (const b of bindings) (plan.portBindings[key(b)] ??= []).push({ HostIp: b.hostIp, HostPort: b.hostPort });
  if (publishAll) for (const e of exposed) plan.portBindings[key(e)] ??= [{ HostIp: '', HostPort: '' }];
  return plan;
}

import { describe, expect, it } from 'vitest';
import { UsageError } from '../contract/errors.js';
import { parsePublish, planPorts } from './publish-ports.js';

describe('-p', () => {
  it.each([
    ['8080', { port: 8080, proto: 'tcp', hostPort: '', hostIp: '' }],
    ['9000:80', { port: 80, proto: 'tcp', hostPort: '9000', hostIp: '' }],
    ['127.0.0.1:9000:80/udp', { port: 80, proto: 'udp', hostPort: '9000', hostIp: '127.0.0.1' }],
    ['127.0.0.1::80', { port: 80, proto: 'tcp', hostPort: '', hostIp: '127.0.0.1' }],
  ])('%s', (text, binding) => expect(parsePublish(text)).toEqual(binding));

  it.each(['', 'x:80', '70000', '80/sctp', '1:2:3:4'])('rejects %j', (text) => expect(() => parsePublish(text)).toThrow(UsageError));
});

describe('planPorts', () => {
  it('forwards every published and exposed port once, and binds only what is published', () => {
    const plan = planPorts(['9000:80', '53/udp'], ['8080'], ['80/tcp', '443/tcp'], false);
    expect(plan.forwards).toEqual([
      { port: 80, proto: 'tcp' },
      { port: 53, proto: 'udp' },
      { port: 8080, proto: 'tcp' },
      { port: 443, proto: 'tcp' },
    ]);
    expect(plan.portBindings).toEqual({ '80/tcp': [{ HostIp: '', HostPort: '9000' }], '53/udp': [{ HostIp: '', HostPort: '' }] });
    expect(Object.keys(plan.exposedPorts)).toEqual(['80/tcp', '53/udp', '8080/tcp', '443/tcp']);
  });

  it('--publish-all binds every exposed port to a port docker picks', () => {
    expect(planPorts([], ['8080'], [], true).portBindings).toEqual({ '8080/tcp': [{ HostIp: '', HostPort: '' }] });
  });
});

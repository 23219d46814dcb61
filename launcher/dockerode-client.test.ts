import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { engineFromEnvironment } from './dockerode-client.js';

describe('engineFromEnvironment', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.unstubAllEnvs();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('asks a unix socket through an agent that names no TLS server, and the engine answers through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-unit-'));
    dirs.push(dir);
    const socket = join(dir, 'docker.sock');
    const seen: string[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('OK');
    });
    await new Promise<void>((r) => server.listen(socket, r));
    try {
      vi.stubEnv('DOCKER_HOST', `unix://${socket}`);
      const docker = engineFromEnvironment();
      const agent = (docker.modem as { agent?: { options: { servername?: string } } }).agent;
      expect(agent?.options.servername).toBe('');
      expect(String(await docker.ping())).toBe('OK');
      expect(seen).toEqual(['GET /_ping']);
      // docker-modem inspects each request's options, agent included, at any depth (unbundled, as the library runs it):
      // the agent, holding its socket now, is one word
      expect(inspect({ agent }, { showHidden: true, depth: null })).toBe('{ agent: Agent { servername: "" } }');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('leaves TLS (an engine over tcp:// with certificates) to the default agent, which names the server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'testin-unit-'));
    dirs.push(dir);
    // docker-modem reads the client's certificates when it is made (their content does not matter here)
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    vi.stubEnv('DOCKER_HOST', 'tcp://engine.example:2376');
    vi.stubEnv('DOCKER_TLS_VERIFY', '1');
    vi.stubEnv('DOCKER_CERT_PATH', dir);
    const docker = engineFromEnvironment();
    const modem = docker.modem as { protocol?: string; agent?: unknown };
    expect(modem.protocol).toBe('https');
    expect(modem.agent).toBeUndefined();
  });
});

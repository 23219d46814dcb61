import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { engineIdentity, engineInfoOf, isPodman, negotiateApiVersion, NEWEST_TESTED_API, versionFromPing, type InfoResponse, type PingAnswer, type VersionResponse } from './engine-identity.js';

/** `GET /version` and `GET /info` as each engine answered them, recorded with curl (testdata/engines/README.md) */
const recorded = (engine: string): { version: VersionResponse; info: InfoResponse } => {
  const read = (what: string): unknown => JSON.parse(readFileSync(new URL(`testdata/engines/${engine}-${what}.json`, import.meta.url), 'utf8'));
  return { version: read('version') as VersionResponse, info: read('info') as InfoResponse };
};

describe('engineIdentity on recorded answers', () => {
  it.each([
    ['docker20', 'docker', /^20\.10\./, '1.41', false],
    ['docker26', 'docker', /^26\.1\./, '1.45', false],
    ['podman4', 'podman', /^4\.3\./, '1.41', false],
    ['podman5', 'podman', /^5\.4\./, '1.41', false],
    ['podman4-rootless', 'podman', /^4\.3\./, '1.41', true],
    ['docker20-rootless', 'docker', /^20\.10\./, '1.41', true],
  ] as const)('%s: %s, its version, API %s, rootless %s', (engine, product, version, api, rootless) => {
    const { version: v, info } = recorded(engine);
    const id = engineIdentity(v, info, {});
    expect(id).toMatchObject({ product, apiVersion: api, engineApiVersion: api, rootless, remote: false, endpoint: 'unix:///var/run/docker.sock', seccompInline: product === 'docker' });
    expect(id.version).toMatch(version);
  });

  it('says remote for an engine reached over TCP or SSH, local for a unix socket', () => {
    const { version, info } = recorded('docker26');
    expect(engineIdentity(version, info, { DOCKER_HOST: 'tcp://127.0.0.1:23750' })).toMatchObject({ remote: true, endpoint: 'tcp://127.0.0.1:23750' });
    expect(engineIdentity(version, info, { DOCKER_HOST: 'ssh://ci@build' }).remote).toBe(true);
    expect(engineIdentity(version, info, { DOCKER_HOST: 'unix:///run/podman/podman.sock' }).remote).toBe(false);
  });

  it("reads the engine's host from /info the same way on each", () => {
    expect(engineInfoOf(recorded('docker20').info)).toMatchObject({ serverVersion: '20.10.24+dfsg1', cgroupVersion: '1', securityOptions: ['name=seccomp,profile=default'] });
    expect(engineInfoOf(recorded('podman5').info)).toMatchObject({ serverVersion: '5.4.2', cgroupVersion: '1' });
    expect(engineInfoOf(recorded('podman4').info).ncpu).toBeGreaterThan(0);
    expect(engineInfoOf({})).toMatchObject({ serverVersion: '?', cgroupVersion: '1', securityOptions: [] });
  });
});

describe('negotiateApiVersion', () => {
  it("speaks the engine's own version when it is no newer than testin's", () => {
    expect(negotiateApiVersion(recorded('docker20').version)).toBe('1.41');
    expect(negotiateApiVersion(recorded('docker26').version)).toBe('1.45');
    expect(negotiateApiVersion(recorded('podman5').version)).toBe('1.41');
  });

  // Docker 29's answer is not recorded here (no such engine on this machine): its fields as Docker documents them
  it("speaks testin's newest to a newer engine that still takes it (Docker 29: API 1.52, minimum 1.44)", () => {
    expect(negotiateApiVersion({ Version: '29.0.0', ApiVersion: '1.52', MinAPIVersion: '1.44' })).toBe(NEWEST_TESTED_API);
  });

  it("speaks the engine's oldest when even that is newer than testin's", () => {
    expect(negotiateApiVersion({ ApiVersion: '1.60', MinAPIVersion: '1.50' })).toBe('1.50');
  });

  it('compares versions as numbers, not as text (1.9 is older than 1.45)', () => {
    expect(negotiateApiVersion({ ApiVersion: '1.9' })).toBe('1.9');
    expect(negotiateApiVersion({ ApiVersion: '2.0', MinAPIVersion: '1.24' })).toBe(NEWEST_TESTED_API);
  });

  it('takes DOCKER_API_VERSION as the docker CLI does, and unversioned paths when the engine names no version', () => {
    expect(negotiateApiVersion(recorded('docker26').version, { DOCKER_API_VERSION: '1.43' })).toBe('1.43');
    expect(negotiateApiVersion(recorded('docker26').version, { DOCKER_API_VERSION: 'v1.44' })).toBe('1.44');
    expect(negotiateApiVersion({})).toBeUndefined();
  });
});

/** `GET /_ping`'s headers as each engine answered (testdata/engines/*-ping.txt, `curl -D -`) */
const recordedPing = (engine: string): PingAnswer => {
  const headers = new Map(
    readFileSync(new URL(`testdata/engines/${engine}-ping.txt`, import.meta.url), 'utf8')
      .split('\n')
      .map((line) => /^([^:]+):\s*(.*)$/.exec(line))
      .filter((m) => m !== null)
      .map((m) => [m[1]?.toLowerCase(), m[2]]),
  );
  return { apiVersion: headers.get('api-version'), server: headers.get('server') };
};

describe('versionFromPing: what /version says, from the ping alone', () => {
  it.each(['docker20', 'docker26', 'podman4', 'podman5'])('%s: the same identity as from its /version', (engine) => {
    const { version, info } = recorded(engine);
    const fromPing = versionFromPing(recordedPing(engine));
    expect(fromPing).toBeDefined();
    expect(engineIdentity(fromPing as VersionResponse, info, {})).toEqual(engineIdentity(version, info, {}));
    expect(negotiateApiVersion(fromPing as VersionResponse)).toBe(negotiateApiVersion(version));
    expect(isPodman(fromPing as VersionResponse)).toBe(engine.startsWith('podman'));
    expect(isPodman(version)).toBe(engine.startsWith('podman'));
  });

  it('leaves it to /version when the engine speaks a newer API than testin (its oldest decides), or the headers do not say', () => {
    expect(versionFromPing({ apiVersion: '1.52', server: 'Docker/29.0.0 (linux)' })).toBeUndefined();
    expect(versionFromPing({ apiVersion: '1.41' })).toBeUndefined();
    expect(versionFromPing({ server: 'Docker/20.10.24 (linux)' })).toBeUndefined();
    expect(versionFromPing({ apiVersion: '1.41', server: 'nginx/1.25' })).toBeUndefined();
    expect(versionFromPing({ apiVersion: 'x', server: 'Docker/20.10.24 (linux)' })).toBeUndefined();
  });
});

/**
 * Which engine answers, from its own words: `GET /version` and `GET /info` as
 * Docker (20 to 29) and Podman's Docker-compatible service (4, 5) write them.
 * Pure, so each engine's recorded answers are unit-tested (engine-identity.test.ts).
 */
import type { EngineIdentity, EngineInfo } from '../contract/docker-client.js';

/** what testin reads of `GET /version` */
export interface VersionResponse {
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  Arch?: string;
  Components?: { Name?: string; Version?: string }[] | null;
}

/** what testin reads of `GET /info` */
export interface InfoResponse {
  ServerVersion?: string;
  CgroupVersion?: string;
  SecurityOptions?: string[] | null;
  DockerRootDir?: string;
  OperatingSystem?: string;
  KernelVersion?: string;
  NCPU?: number;
  MemTotal?: number;
  Architecture?: string;
  /** Docker: { runc: { path: 'runc' }, testin: { path: '/var/lib/testin/runtime/testin-runtime' } } */
  Runtimes?: Record<string, { path?: string }> | null;
  /** Podman only (its compat /info adds it); Docker says rootless in SecurityOptions */
  Rootless?: boolean;
}

/**
 * The newest Engine API version testin was tested against (Docker 26's). An engine
 * that speaks a newer one is asked in this one, as the docker CLI negotiates:
 * the answers keep the shapes testin reads even where a newer API changed them
 * (from 1.52 events drop `status`, `id` and `from`). Engines from Docker 29 on
 * refuse versions below 1.44: this one is above.
 */
export const NEWEST_TESTED_API = '1.45';

const apiParts = (v: string): [number, number] => {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
};
const compareApi = (a: string, b: string): number => {
  const [am, an] = apiParts(a);
  const [bm, bn] = apiParts(b);
  return am - bm || an - bn;
};

/**
 * The API version to speak: the engine's own when it is no newer than testin's
 * (Docker 20 and Podman say 1.41), else the newest testin knows, raised to the
 * engine's minimum if that is newer still (an engine from the future: its oldest
 * is the closest to what testin knows). DOCKER_API_VERSION pins it, as for the
 * docker CLI. Undefined when the engine names none: then unversioned paths,
 * the engine's current version.
 */
export function negotiateApiVersion(version: VersionResponse, env: NodeJS.ProcessEnv = {}, newest: string = NEWEST_TESTED_API): string | undefined {
  const pinned = env.DOCKER_API_VERSION?.replace(/^v/, '');
  if (pinned) return pinned;
  const server = version.ApiVersion;
  if (!server || apiParts(server)[0] === 0) return undefined;
  if (compareApi(server, newest) <= 0) return server;
  const min = version.MinAPIVersion;
  return min && compareApi(min, newest) > 0 ? min : newest;
}

/** what testin reads of `GET /_ping`'s headers */
export interface PingAnswer {
  /** Api-Version: the engine's newest API version */
  apiVersion?: string | undefined;
  /** Server: Docker/26.1.5+dfsg1 (linux); Podman's compat service: Libpod/5.4.2 (linux) */
  server?: string | undefined;
}

/**
 * What `GET /version` would tell testin, from the ping's headers: the API version, the
 * product and its version. /version is slow (the engine asks its runtime and, Podman, its
 * packages): 20-40 ms on Docker, 0.3-1.4 s on Podman here, on every run. Undefined when the
 * headers do not say enough, or when the engine speaks an API newer than testin's: then its
 * oldest (MinAPIVersion, only in /version) decides the version to speak (negotiateApiVersion).
 */
export function versionFromPing(ping: PingAnswer, newest: string = NEWEST_TESTED_API): VersionResponse | undefined {
  const server = /^(Docker|Libpod)\/(\S+)/i.exec(ping.server ?? '');
  const api = ping.apiVersion;
  if (!server || !api || apiParts(api)[0] === 0 || compareApi(api, newest) > 0) return undefined;
  const [, product = '', version = ''] = server;
  return /^libpod$/i.test(product) ? { ApiVersion: api, Components: [{ Name: 'Podman Engine', Version: version }] } : { ApiVersion: api, Version: version, Components: [] };
}

const podmanComponent = (version: VersionResponse): { Name?: string; Version?: string } | undefined => (version.Components ?? []).find((c) => /podman/i.test(c.Name ?? ''));

/** Podman's Docker-compatible service, not Docker (/version names it among its components) */
export function isPodman(version: VersionResponse): boolean {
  return podmanComponent(version) !== undefined;
}

/**
 * Docker or Podman (Podman names itself among its version's components as
 * "Podman Engine"), the product's version, and rootless: Docker says so in its
 * security options (name=rootless), Podman's compat /info in a field of its own.
 */
export function engineIdentity(version: VersionResponse, info: InfoResponse, env: NodeJS.ProcessEnv): EngineIdentity {
  const podman = podmanComponent(version);
  const host = env.DOCKER_HOST ?? '';
  return {
    product: podman ? 'podman' : 'docker',
    version: podman?.Version ?? version.Version ?? '?',
    apiVersion: negotiateApiVersion(version, env) ?? version.ApiVersion ?? '?',
    engineApiVersion: version.ApiVersion ?? '?',
    rootless: info.Rootless === true || (info.SecurityOptions ?? []).some((o) => /\brootless\b/.test(o)),
    remote: /^(tcp|ssh|https?):/.test(host),
    endpoint: host || 'unix:///var/run/docker.sock',
    seccompInline: !podman,
    architecture: env.TESTIN_ENGINE_ARCH || String(info.Architecture ?? version.Arch ?? '?'),
  };
}

/** the engine's host as `docker info` tells it */
export function engineInfoOf(info: InfoResponse, env: NodeJS.ProcessEnv = process.env): EngineInfo {
  return {
    serverVersion: String(info.ServerVersion ?? '?'),
    cgroupVersion: String(info.CgroupVersion ?? '1'),
    securityOptions: info.SecurityOptions ?? [],
    dockerRootDir: String(info.DockerRootDir ?? '?'),
    operatingSystem: String(info.OperatingSystem ?? '?'),
    kernelVersion: String(info.KernelVersion ?? '?'),
    ncpu: Number(info.NCPU ?? 0),
    memTotal: Number(info.MemTotal ?? 0),
    architecture: env.TESTIN_ENGINE_ARCH || String(info.Architecture ?? '?'),
    runtimes: Object.fromEntries(Object.entries(info.Runtimes ?? {}).map(([name, r]) => [name, String(r?.path ?? name)])),
  };
}

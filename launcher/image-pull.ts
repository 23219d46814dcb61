/**
 * --pull missing|always|never, as docker run does it: the engine pulls the image from its
 * registry, with the client's docker credentials (~/.docker/config.json: its auths, credsStore and
 * credHelpers), docker's progress on a terminal (one line, updated in place) and a line per
 * stage without one; a registry's refusal is one line with a fix.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { DockerClient, ImageInfo, PullAuth, PullProgress } from '../contract/docker-client.js';
import { DockerRefusedError, DockerUnreachableError, ImageNotFoundError, ImagePullError } from '../contract/errors.js';
import type { PullPolicy } from '../contract/run-options.js';

/** Docker Hub's key in config.json */
const DOCKER_HUB = 'https://index.docker.io/v1/';

/** docker's reference grammar (distribution/reference): [HOST[:PORT]/]PATH[:TAG][@DIGEST], the path lowercase */
const HOST_PART = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`;
/** a first part docker takes for a registry: with a dot or a port, localhost, or an IPv6 address */
const HOST = String.raw`(?:localhost(?::[0-9]+)?|${HOST_PART}(?:\.${HOST_PART})+(?::[0-9]+)?|${HOST_PART}:[0-9]+|\[[0-9a-fA-F:]+\](?::[0-9]+)?)`;
const PATH_PART = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const REFERENCE = new RegExp(String.raw`^(?:${HOST}/)?${PATH_PART}(?:/${PATH_PART})*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,})?$`);

/**
 * Pure: the image's name as docker takes it, else why not (docker's "invalid reference format"), before the
 * engine is asked: a name it refuses otherwise reached its API as a path (`a b`, `/bin/init`) and failed there.
 */
export function referenceProblem(image: string): string | undefined {
  if (REFERENCE.test(image) && image.length <= 255) return undefined;
  return REFERENCE.test(image.toLowerCase()) ? 'repository name must be lowercase' : 'not [HOST[:PORT]/]NAME[:TAG][@DIGEST]';
}

/** The registry an image reference names, as docker reads it: a first part with a dot, a colon or localhost; else Docker Hub. */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  const first = slash < 0 ? '' : image.slice(0, slash);
  return first && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string; username?: string; password?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** asks a docker-credential-NAME helper for a registry's credentials: its JSON answer, or undefined when it has none */
export type CredentialHelper = (helper: string, server: string) => { Username?: string; Secret?: string } | undefined;

const runHelper: CredentialHelper = (helper, server) => {
  try {
    return JSON.parse(execFileSync(`docker-credential-${helper}`, ['get'], { input: server, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'], timeout: 10_000 })) as { Username?: string; Secret?: string };
  } catch {
    return undefined;
  }
};

/**
 * The credentials docker's CLI would send for a registry: a credential helper named for it
 * (credHelpers) or for all (credsStore), else the auths entry (base64 user:password, or an
 * identity token). Keys may be a bare host or a URL, as `docker login` wrote them.
 */
export function credentialsFor(registry: string, config: DockerConfigFile, helper: CredentialHelper = runHelper): PullAuth | undefined {
  const server = registry === 'docker.io' ? DOCKER_HUB : registry;
  const named = config.credHelpers?.[registry] ?? config.credsStore;
  if (named) {
    const said = helper(named, server);
    if (said?.Secret) return said.Username === '<token>' ? { identitytoken: said.Secret, serveraddress: server } : { username: said.Username ?? '', password: said.Secret, serveraddress: server };
  }
  const bare = (key: string): string => key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const entry = Object.entries(config.auths ?? {}).find(([key]) => key === server || bare(key) === bare(server) || (registry === 'docker.io' && bare(key) === 'index.docker.io'))?.[1];
  if (!entry) return undefined;
  if (entry.identitytoken) return { identitytoken: entry.identitytoken, serveraddress: server };
  if (entry.auth) {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0) return { username: text.slice(0, colon), password: text.slice(colon + 1), serveraddress: server };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password, serveraddress: server };
  return undefined;
}

/** the client's docker config (DOCKER_CONFIG, else ~/.docker), {} when there is none */
function readDockerConfig(env: NodeJS.ProcessEnv): DockerConfigFile {
  try {
    return JSON.parse(readFileSync(join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json'), 'utf8')) as DockerConfigFile;
  } catch {
    return {};
  }
}

/** What to do about a registry's refusal, from its words. */
export function pullFix(image: string, said: string): string {
  const registry = registryOf(image);
  if (/unauthorized|authentication required|denied|no basic auth credentials|forbidden/i.test(said)) {
    return `log in to it (docker login ${registry === 'docker.io' ? '' : registry}), or check the name: a registry says "denied" for a repository that does not exist too`.replace('  ', ' ');
  }
  if (/manifest unknown|not found|does not exist|no such image/i.test(said)) return `check the image's name and tag (docker pull ${image} says the same)`;
  if (/connection refused|no such host|timeout|i\/o timeout|network is unreachable|dial tcp|server gave HTTP response to HTTPS client|tls|x509/i.test(said)) {
    return `the engine cannot reach ${registry}: check that it runs and the engine's network and proxy, or load the image (docker load) and run with --pull never`;
  }
  return `pull it yourself (docker pull ${image}) to see the registry's full answer`;
}

/**
 * The pull's progress as docker shows it: on a terminal one line, updated in place (layers and
 * bytes); without one, a line when it begins and one when it ends, so a log says what happened.
 */
export class PullProgressLine {
  readonly #layers = new Map<string, { current: number; total: number; done: boolean }>();
  #drawn = false;

  constructor(
    private readonly out: Writable,
    private readonly tty: boolean,
    private readonly image: string,
  ) {}

  begin(): void {
    this.out.write(this.tty ? `testin: pulling ${this.image}` : `testin: pulling ${this.image}\n`);
    this.#drawn = this.tty;
  }

  on(event: PullProgress): void {
    if (!event.id || event.id === this.image.split(':')[1]) return;
    const layer = this.#layers.get(event.id) ?? { current: 0, total: 0, done: false };
    if (event.total) Object.assign(layer, { current: event.current ?? 0, total: event.total });
    if (/^(Pull complete|Already exists)/.test(event.status)) layer.done = true;
    this.#layers.set(event.id, layer);
    if (this.tty) this.out.write(`\r\x1b[2K${this.describe()}`);
  }

  /** "testin: pulling IMG: 2 of 3 layers, 12.3 of 40.0 MB" */
  describe(): string {
    const layers = [...this.#layers.values()];
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    const total = layers.reduce((a, l) => a + l.total, 0);
    const bytes = total ? `, ${(layers.reduce((a, l) => a + (l.done ? l.total : l.current), 0) / 1e6).toFixed(1)} of ${mb(total)}` : '';
    return `testin: pulling ${this.image}: ${layers.filter((l) => l.done).length} of ${layers.length} layers${bytes}`;
  }

  end(ok: boolean): void {
    if (this.#drawn) this.out.write(ok ? `\r\x1b[2K${this.describe()}, done\n` : '\n');
    else if (ok) this.out.write(`testin: pulled ${this.image} (${this.#layers.size} layers)\n`);
  }
}

export interface EnsureImageOptions {
  pull?: PullPolicy | undefined;
  /** docker's --platform: the variant pulled */
  platform?: string | undefined;
  out: Writable;
  tty: boolean;
  env?: NodeJS.ProcessEnv;
  /** for tests: how a credential helper is asked */
  helper?: CredentialHelper;
}

/** The image, pulled first when the policy says so; its refusals are one line each (exit 125). */
export async function ensureImage(docker: DockerClient, image: string, options: EnsureImageOptions): Promise<ImageInfo> {
  const policy = options.pull ?? 'missing';
  if (policy !== 'always') {
    const local = await docker.inspectImage(image);
    if (local) return local;
    if (policy === 'never') throw new ImageNotFoundError(image, undefined, '--pull never');
  }
  const progress = new PullProgressLine(options.out, options.tty, image);
  progress.begin();
  try {
    await docker.pullImage(image, (event) => progress.on(event), credentialsFor(registryOf(image), readDockerConfig(options.env ?? process.env), options.helper), options.platform);
  } catch (error) {
    progress.end(false);
    if (error instanceof DockerUnreachableError) throw error;
    // the engine's refusal at the request (DockerRefusedError), or the registry's error in the progress stream
    const said = ((error instanceof DockerRefusedError ? error.engine?.said : undefined) ?? (error as Error).message).trim().split('\n')[0] ?? '';
    throw new ImagePullError(image, said, pullFix(image, said), error);
  }
  progress.end(true);
  const pulled = await docker.inspectImage(image);
  if (!pulled) throw new ImagePullError(image, 'the pull ended without the image', `pull it yourself (docker pull ${image})`);
  return pulled;
}

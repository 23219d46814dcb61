import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from './testin.js';

/** the user the loopback registry takes, and the bcrypt hash of its password (htpasswd's format; the registry takes bcrypt only) */
export const REGISTRY_USER = 'testin';
export const REGISTRY_PASSWORD = 'testin-pw';
const PASSWORD_BCRYPT = '$2b$04$bWDdva4OmSauk5TCy.eVo.qf/FsCD1nlw8k.fGaw8oxmV2OhEc0Nq';

export interface LoopbackRegistry {
  /** host:port, as an image reference names it */
  address: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Debian's docker-registry (distribution 2.8) on 127.0.0.1, with htpasswd auth: docker pushes to
 * and pulls from 127.0.0.0/8 without TLS. Its storage is a temp dir, removed by stop().
 */
export async function startRegistry(): Promise<LoopbackRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-'));
  const port = await freePort();
  writeFileSync(join(dir, 'htpasswd'), `${REGISTRY_USER}:${PASSWORD_BCRYPT}\n`);
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: error }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
      `http: { addr: "127.0.0.1:${port}" }`,
      `auth: { htpasswd: { realm: testin, path: ${join(dir, 'htpasswd')} } }`,
      '',
    ].join('\n'),
  );
  const child: ResultPromise = execa('docker-registry', ['serve', join(dir, 'config.yml')], { reject: false, stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  const up = await within(15_000, async () => {
    const answer = await fetch(`http://${address}/v2/`).catch(() => undefined);
    return answer?.status === 401;
  });
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await child;
    rmSync(dir, { recursive: true, force: true });
  };
  if (!up) {
    await stop();
    throw new Error(`docker-registry did not answer on ${address} within 15 s`);
  }
  return { address, stop };
}

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { DockerClient, ImageInfo, PullAuth, PullProgress } from '../contract/docker-client.js';
import { ImageNotFoundError, ImagePullError } from '../contract/errors.js';
import { credentialsFor, ensureImage, PullProgressLine, pullFix, referenceProblem, registryOf } from './image-pull.js';

describe("referenceProblem: docker's image reference grammar", () => {
  it.each(['debian:12', 'testin-test/busybox:1', 'localhost:5000/a/b:c', `registry.example:5000/team/app@sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`, '0123456789ab', 'Reg.Example/app', '[::1]:5000/x', 'my_app', 'a__b.c-d'])('takes %s', (image) => {
    expect(referenceProblem(image)).toBeUndefined();
  });

  it.each([
    ['a b', 'not [HOST[:PORT]/]NAME[:TAG][@DIGEST]'],
    ['/bin/init', 'not [HOST[:PORT]/]NAME[:TAG][@DIGEST]'],
    ['app:', 'not [HOST[:PORT]/]NAME[:TAG][@DIGEST]'],
    ['a//b', 'not [HOST[:PORT]/]NAME[:TAG][@DIGEST]'],
    ['app@sha256:short', 'not [HOST[:PORT]/]NAME[:TAG][@DIGEST]'],
    ['Team/App', 'repository name must be lowercase'],
    ['UPPER/case', 'repository name must be lowercase'],
  ])('refuses %s: %s', (image, why) => {
    expect(referenceProblem(image)).toBe(why);
  });
});

describe('registryOf: the registry an image names, as docker reads it', () => {
  it.each([
    ['debian:13', 'docker.io'],
    ['library/debian', 'docker.io'],
    ['myorg/app:dev', 'docker.io'],
    ['localhost/app', 'localhost'],
    ['127.0.0.1:5000/app:1', '127.0.0.1:5000'],
    ['ghcr.io/org/app@sha256:abc', 'ghcr.io'],
  ])('%s -> %s', (image, registry) => expect(registryOf(image)).toBe(registry));
});

describe("credentialsFor: the docker CLI's credentials for a registry", () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  it('reads an auths entry (base64 user:password; the password may hold a colon), by host or URL', () => {
    expect(credentialsFor('127.0.0.1:5000', { auths: { '127.0.0.1:5000': { auth: b64('ann:pa:ss') } } })).toEqual({ username: 'ann', password: 'pa:ss', serveraddress: '127.0.0.1:5000' });
    expect(credentialsFor('ghcr.io', { auths: { 'https://ghcr.io/v2/': { auth: b64('bo:x') } } })).toMatchObject({ username: 'bo' });
    expect(credentialsFor('docker.io', { auths: { 'https://index.docker.io/v1/': { identitytoken: 'tok' } } })).toEqual({ identitytoken: 'tok', serveraddress: 'https://index.docker.io/v1/' });
    expect(credentialsFor('quay.io', { auths: { 'ghcr.io': { auth: b64('bo:x') } } })).toBeUndefined();
  });

  it('asks the credential helper named for the registry, or the store for all, before auths', () => {
    const asked: string[] = [];
    const helper = (name: string, server: string): { Username: string; Secret: string } => {
      asked.push(`${name} ${server}`);
      return name === 'ecr' ? { Username: 'AWS', Secret: 's3' } : { Username: '<token>', Secret: 'id' };
    };
    const config = { credsStore: 'desktop', credHelpers: { 'x.dkr.ecr.aws': 'ecr' }, auths: { 'x.dkr.ecr.aws': { auth: b64('no:no') } } };
    expect(credentialsFor('x.dkr.ecr.aws', config, helper)).toEqual({ username: 'AWS', password: 's3', serveraddress: 'x.dkr.ecr.aws' });
    expect(credentialsFor('docker.io', config, helper)).toEqual({ identitytoken: 'id', serveraddress: 'https://index.docker.io/v1/' });
    expect(asked).toEqual(['ecr x.dkr.ecr.aws', 'desktop https://index.docker.io/v1/']);
  });
});

describe('pullFix: what to do about a registry refusal', () => {
  it.each([
    ['unauthorized: authentication required', /docker login 127.0.0.1:5000/],
    ['manifest unknown: manifest unknown', /check the image's name and tag/],
    ['Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused', /cannot reach 127.0.0.1:5000.*--pull never/],
    ['something else', /docker pull 127.0.0.1:5000\/app/],
  ])('%s', (said, fix) => expect(pullFix('127.0.0.1:5000/app', said)).toMatch(fix));
});

describe('PullProgressLine', () => {
  const events: PullProgress[] = [
    { id: 'a', status: 'Downloading', current: 1e6, total: 4e6 },
    { id: 'b', status: 'Already exists' },
    { id: 'a', status: 'Pull complete' },
  ];
  const shown = (tty: boolean): string => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const line = new PullProgressLine(out, tty, 'app:1');
    line.begin();
    for (const e of events) line.on(e);
    line.end(true);
    return text;
  };
  it('on a terminal: one line updated in place with layers and bytes', () => {
    const text = shown(true);
    expect(text).toContain('\r\x1b[2Ktestin: pulling app:1: 0 of 1 layers, 1.0 of 4.0 MB');
    expect(text.endsWith('testin: pulling app:1: 2 of 2 layers, 4.0 of 4.0 MB, done\n')).toBe(true);
  });
  it('without one: a line when it begins and one when it ends', () => {
    expect(shown(false)).toBe('testin: pulling app:1\ntestin: pulled app:1 (2 layers)\n');
  });
});

describe('ensureImage: --pull missing|always|never', () => {
  const info: ImageInfo = { id: 'sha256:1', config: {} };
  const engine = (has: boolean, pull: (auth?: PullAuth) => void = () => undefined): { docker: DockerClient; calls: string[] } => {
    const calls: string[] = [];
    let present = has;
    const docker = {
      inspectImage: async () => {
        calls.push('inspect');
        return present ? info : undefined;
      },
      pullImage: async (_name: string, _p: unknown, auth?: PullAuth) => {
        calls.push('pull');
        pull(auth);
        present = true;
      },
    } as unknown as DockerClient;
    return { docker, calls };
  };
  const out = new PassThrough();

  it('missing pulls only what the engine lacks; always pulls; never refuses a missing image with a fix', async () => {
    const has = engine(true);
    await ensureImage(has.docker, 'app', { out, tty: false });
    expect(has.calls).toEqual(['inspect']);
    const lacks = engine(false);
    expect(await ensureImage(lacks.docker, 'app', { out, tty: false, env: {} })).toBe(info);
    expect(lacks.calls).toEqual(['inspect', 'pull', 'inspect']);
    const always = engine(true);
    await ensureImage(always.docker, 'app', { pull: 'always', out, tty: false, env: {} });
    expect(always.calls).toEqual(['pull', 'inspect']);
    const error = await ensureImage(engine(false).docker, 'app', { pull: 'never', out, tty: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageNotFoundError);
    expect((error as ImageNotFoundError).fix).toMatch(/drop --pull never/);
  });

  it("turns the registry's refusal into one line with a fix", async () => {
    const refused = engine(false, () => {
      throw new Error('unauthorized: authentication required\nmore');
    });
    const error = await ensureImage(refused.docker, 'reg.example:5000/app', { out, tty: false, env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImagePullError);
    expect((error as ImagePullError).message).toBe('cannot pull reg.example:5000/app: unauthorized: authentication required');
    expect((error as ImagePullError).fix).toMatch(/docker login reg.example:5000/);
  });
});

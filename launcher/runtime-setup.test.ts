import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containerdDropIn, runtimeScript, withDockerRuntime } from './runtime-setup.js';

describe('testin runtime configure', () => {
  it("adds the runtime to docker's daemon.json and keeps every other key and runtime", () => {
    const before = JSON.stringify({ 'log-driver': 'json-file', runtimes: { crun: { path: '/usr/bin/crun' } } });
    const after = withDockerRuntime(before, 'testin', '/var/lib/testin/runtime/testin-runtime');
    expect(after.changed).toBe(true);
    expect(JSON.parse(after.text)).toEqual({ 'log-driver': 'json-file', runtimes: { crun: { path: '/usr/bin/crun' }, testin: { path: '/var/lib/testin/runtime/testin-runtime' } } });
    expect(withDockerRuntime(after.text, 'testin', '/var/lib/testin/runtime/testin-runtime').changed).toBe(false);
    expect(JSON.parse(withDockerRuntime(undefined, 'vm', '/x').text)).toEqual({ runtimes: { vm: { path: '/x' } } });
  });

  it('refuses a daemon.json that is not JSON, with a fix', () => {
    expect(() => withDockerRuntime('{ nope', 'testin', '/x')).toThrow(/daemon.json is not JSON/);
  });

  it("writes a containerd drop-in: the runc shim with testin-runtime as BinaryName, under the handler's name", () => {
    const text = containerdDropIn('testin', '/var/lib/testin/runtime/testin-runtime');
    expect(text).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.testin]\n  runtime_type = "io.containerd.runc.v2"');
    expect(text).toContain('pod_annotations = ["testin.*"]');
    expect(text).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.testin.options]\n  BinaryName = "/var/lib/testin/runtime/testin-runtime"');
  });

  it("sends create, run and exec to the bundle on the toolbox's node, every other command straight to runc", () => {
    const dir = mkdtempSync(join(tmpdir(), "testin-runtime-script-it's-"));
    try {
      // a toolbox whose loader and a runc that say what they were given
      mkdirSync(join(dir, 'tb', 'lib'), { recursive: true });
      writeFileSync(join(dir, 'tb', 'lib', 'ld.so'), '#!/bin/sh\necho "node $TESTIN_RUNTIME_DIR $*"\n', { mode: 0o755 });
      writeFileSync(join(dir, 'runc'), '#!/bin/sh\necho "runc $*"\n', { mode: 0o755 });
      writeFileSync(join(dir, 'testin-runtime'), runtimeScript(dir, join(dir, 'tb'), join(dir, 'runc')), { mode: 0o755 });
      const run = (...args: string[]): string => execFileSync(join(dir, 'testin-runtime'), args, { encoding: 'utf8' }).trim();
      const node = `node ${dir} --library-path ${dir}/tb/lib ${dir}/tb/bin/node ${dir}/testin-runtime.mjs`;
      expect(run('--root', '/r', '--log', '/l.json', '--log-format', 'json', 'create', '--bundle', '/b', 'id1')).toBe(`${node} --root /r --log /l.json --log-format json create --bundle /b id1`);
      expect(run('--systemd-cgroup', 'exec', '--process', '/p.json', 'id1')).toBe(`${node} --systemd-cgroup exec --process /p.json id1`);
      expect(run('--root', 'create', 'start', 'id1')).toBe('runc --root create start id1');
      expect(run('--root', '/r', 'delete', '--force', 'id1')).toBe('runc --root /r delete --force id1');
      expect(run('--version')).toBe('runc --version');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { execa } from 'execa';

/** the containerd that dockerd runs (DESIGN.md): ctr reaches it there */
const CONTAINERD = '/var/run/docker/containerd/containerd.sock';

/**
 * `ctr run --rm --runc-binary RUNTIME IMAGE ID ARGV` in a namespace of its own (what a
 * RuntimeClass's runc shim with BinaryName does), with the docker image imported first;
 * the namespace, its image and its container are removed after.
 */
export async function ctrRun(runtime: string, image: string, argv: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const ns = `testin-e2e-${process.pid}`;
  const id = `run-${process.pid}`;
  const ctr = (args: string[], input?: Buffer) => execa('ctr', ['--address', CONTAINERD, '-n', ns, ...args], { reject: false, ...(input ? { input } : {}) });
  try {
    const saved = (await execa('docker', ['save', image], { encoding: 'buffer' })).stdout;
    const imported = await ctr(['images', 'import', '-'], saved);
    if (imported.exitCode !== 0) throw new Error(`ctr images import: ${imported.stderr.toString()}`);
    const r = await ctr(['run', '--rm', '--runc-binary', runtime, `docker.io/${image}`, id, ...argv]);
    return { exitCode: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  } finally {
    await ctr(['containers', 'rm', id]);
    await ctr(['images', 'rm', `docker.io/${image}`]);
    await execa('ctr', ['--address', CONTAINERD, 'namespaces', 'rm', ns], { reject: false });
  }
}

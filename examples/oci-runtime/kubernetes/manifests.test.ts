import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import yargs from 'yargs';
import { parseAllDocuments } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Pod } from 'kubernetes-models/v1/Pod';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import { DEFAULT_RUNTIME_DIR, DEFAULT_RUNTIME_NAME } from '../../../contract/runtime-install.js';
import { runtimeCommand } from '../../../launcher/commands/runtime-command.js';
import { CONTAINERD_DROP_IN } from '../../../launcher/runtime-setup.js';

/** each kind of these manifests, with the validator generated from the Kubernetes API's OpenAPI schema */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 DaemonSet': DaemonSet,
  'v1 Pod': Pod,
  'node.k8s.io/v1 RuntimeClass': RuntimeClass,
};

type Manifest = { apiVersion: string; kind: string; [key: string]: unknown };
const read = (file: string): Manifest[] => parseAllDocuments(readFileSync(new URL(file, import.meta.url), 'utf8')).map((d) => d.toJS() as Manifest);

/** throws what the schema finds wrong */
function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion} ${manifest.kind}`];
  if (!Model) throw new Error(`no schema here for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

/** No cluster runs where testin is built: the manifests are checked offline, against the Kubernetes API schema (kubernetes-models). */
describe('the Kubernetes recipes (examples/oci-runtime/kubernetes)', () => {
  const runtimeClass = read('./runtimeclass.yaml');
  const daemonSet = read('./daemonset.yaml');

  it('are valid objects of the Kubernetes API', () => {
    expect([...runtimeClass, ...daemonSet].map((m) => `${m.apiVersion} ${m.kind}`)).toEqual(['node.k8s.io/v1 RuntimeClass', 'v1 Pod', 'apps/v1 DaemonSet']);
    for (const manifest of [...runtimeClass, ...daemonSet]) expect(() => validate(manifest), `${manifest.kind}`).not.toThrow();
  });

  it('would be refused when broken (the check can fail)', () => {
    const [rc, pod] = runtimeClass as [Manifest, Manifest];
    expect(() => validate({ ...rc, handler: undefined })).toThrow(/handler/);
    expect(() => validate({ ...pod, spec: { ...(pod.spec as object), containers: [{ image: 'x' }] } })).toThrow(/name/);
    const [ds] = daemonSet as [Manifest];
    expect(() => validate({ ...ds, spec: { ...(ds.spec as object), selector: undefined } })).toThrow(/selector/);
  });

  it("name the handler testin runtime configure writes, and run its install with flags it has, at the node's own paths", async () => {
    const [rc, pod] = runtimeClass as [Manifest & { handler: string }, Manifest & { spec: { runtimeClassName: string } }];
    expect([rc.handler, pod.spec.runtimeClassName]).toEqual([DEFAULT_RUNTIME_NAME, (rc.metadata as { name: string }).name]);
    const spec = (daemonSet[0] as { spec: { template: { spec: { containers: { args: string[]; volumeMounts: { mountPath: string }[] }[]; volumes: { hostPath: { path: string } }[] } } } }).spec.template.spec;
    const script = spec.containers[0]?.args[0] ?? '';
    const line = /^testin (runtime .*)$/m.exec(script)?.[1] ?? '';
    expect(line).toMatch(/^runtime configure --runtime containerd --from \S+$/);
    // the command line parses with testin's own flags, strictly (an unknown or misspelled flag fails)
    const parsed = await yargs(line.split(' '))
      .command(runtimeCommand.command, '', runtimeCommand.builder, () => undefined)
      .strict()
      .exitProcess(false)
      .fail((message) => {
        throw new Error(message);
      })
      .parseAsync();
    expect([parsed.action, parsed.runtime]).toEqual(['configure', 'containerd']);
    // the runtime's folder and containerd's drop-in, mounted where they are on the node
    expect(spec.volumes.map((v) => v.hostPath.path)).toEqual(spec.containers[0]?.volumeMounts.map((m) => m.mountPath));
    expect(DEFAULT_RUNTIME_DIR.startsWith(`${spec.volumes[0]?.hostPath.path}/`)).toBe(true);
    expect(CONTAINERD_DROP_IN.startsWith(`${spec.volumes[1]?.hostPath.path}/`)).toBe(true);
    expect(script).toContain(`"${CONTAINERD_DROP_IN.replace(/[^/]+$/, '*.toml')}"`);
  });
});

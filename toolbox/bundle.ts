/**
 * The build's last step: container-init and the toolbox builder, each bundled
 * into one file that the toolbox's node runs (dist/container-init.js,
 * dist/toolbox-builder.js), and the hash of testin's own files
 * (dist/testin-files.json) by which a run finds its toolbox.
 */
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import { OWN_FILES_RECORD, hashOwnFiles, ownFiles, packageRoot } from './own-files.js';
import { nodePin } from './pinned-node.js';

const root = packageRoot();
const bundles = [
  { entry: join(root, 'container-init', 'main.ts'), out: TOOLBOX_LAYOUT.bundle },
  { entry: join(root, 'toolbox', 'builder', 'main.ts'), out: TOOLBOX_LAYOUT.builderBundle },
];
for (const { entry, out } of bundles) {
  await build({
    entryPoints: [entry],
    outfile: join(root, 'dist', out),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: false,
    sourcemap: false,
    logLevel: 'warning',
  });
}
const files = ownFiles(root);
writeFileSync(join(root, 'dist', OWN_FILES_RECORD), `${JSON.stringify({ hash: hashOwnFiles(files, nodePin()), node: nodePin() }, null, 2)}\n`);

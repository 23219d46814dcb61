/** Bundles container-init into one file (dist/container-init.js) that the toolbox's node runs. */
import { build } from 'esbuild';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

const root = packageRoot();
await build({
  entryPoints: [join(root, 'container-init', 'main.ts')],
  outfile: join(root, 'dist', 'container-init.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: false,
  sourcemap: false,
  logLevel: 'warning',
});

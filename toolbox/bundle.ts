/**
 * The build's last step: container-init and the toolbox builder, each bundled
 * into one file that the toolbox's node runs (dist/container-init.js,
 * dist/toolbox-builder.js), and the hash of testin's own files
 * (dist/testin-files.json) by which a run finds its toolbox.
 */
import { build, type Plugin } from 'esbuild';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TOOLBOX_LAYOUT } from '../contract/layout.js';
import { RUN_REPORT_SCHEMA } from '../contract/run-report.js';
import { OWN_FILES_RECORD, hashOwnFiles, ownFiles, packageRoot } from './own-files.js';
import { nodePin } from './pinned-node.js';

const root = packageRoot();
const bundles = [
  { entry: join(root, 'container-init', 'main.ts'), out: TOOLBOX_LAYOUT.bundle },
  { entry: join(root, 'toolbox', 'builder', 'main.ts'), out: TOOLBOX_LAYOUT.builderBundle },
  // testin-runtime, the OCI runtime: the package's bin (on the node of PATH); `testin runtime install` copies it beside the engine
  { entry: join(root, 'runtime', 'main.ts'), out: 'testin-runtime.mjs', banner: '#!/usr/bin/env node' },
];
for (const { entry, out, banner } of bundles as { entry: string; out: string; banner?: string }[]) {
  await build({
    ...(banner ? { banner: { js: banner } } : {}),
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
chmodSync(join(root, 'dist', 'testin-runtime.mjs'), 0o755);
/**
 * dockerode loads docker over ssh (docker-modem's ssh.js: the ssh2 package) and BuildKit's
 * sessions (dockerode's session.js: gRPC and protobufjs) when it is loaded: 111 ms of a run's
 * start in a CPU profile here, for two things testin uses rarely (ssh://) or never. Each becomes a function that
 * loads the module on its first call (esbuild's CommonJS modules run when first required).
 */
const LAZY = /(docker-modem[\\/]lib[\\/]modem|dockerode[\\/]lib[\\/]docker)\.js$/;
const lazyRequires: Plugin = {
  name: 'lazy-requires',
  setup(b) {
    b.onResolve({ filter: /^\.\/(ssh|session)$/ }, (args) => (LAZY.test(args.importer) ? { path: join(args.resolveDir, `${args.path}.js`), namespace: 'lazy' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({
      contents: `module.exports = function (...a) { return require(${JSON.stringify(args.path)}).apply(this, a); };`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};
/**
 * string-width (yargs' help and its cliui, wrap-ansi) makes an Intl.Segmenter and compiles its
 * Unicode property regexps when it is loaded: ~40 ms of every command's start in a CPU profile
 * here, for help text a run never prints. Each import of it becomes a function that loads it
 * on its first call (esbuild runs an ES module that is required when it is first required).
 */
const lazyStringWidth: Plugin = {
  name: 'lazy-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === 'real') return undefined;
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'real' });
      return real.errors.length ? { errors: real.errors } : { path: real.path, namespace: 'lazy-width' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-width' }, (args) => ({
      contents: `module.exports = function stringWidth(...a) { return require(${JSON.stringify(args.path)}).default(...a); };`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};
// the CLI: its entry and one chunk per thing a verb loads on demand (docker's client, the logger,
// compose, sessions), so `testin --help` reads a few files rather than hundreds of modules.
// ssh2 (docker over ssh://) carries native code: it stays a package, loaded only when asked for.
// The chunks are named by their content: the last build's go first, or they pile up
rmSync(join(root, 'dist', 'cli'), { recursive: true, force: true });
await build({
  entryPoints: { bin: join(root, 'launcher', 'bin.ts') },
  outdir: join(root, 'dist', 'cli'),
  chunkNames: 'chunks/[name]-[hash]',
  // .mjs: node knows each file for an ES module by its name, where for a .js it looks up the
  // package.json above it (its "type") on every import: ~5 ms of a run's start here
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // BuildKit's sessions (dockerode's session.js, buildkit.js: gRPC, protobufjs) load from
  // node_modules when first called, never in a run: bundled, they were ~1 MB of the docker
  // client's chunk that every run's start read and compiled (~30 ms here)
  external: ['ssh2', 'cpu-features', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs'],
  plugins: [lazyRequires, lazyStringWidth],
  // the CommonJS packages inside (dockerode, pino) call require: give the bundle one
  banner: { js: "import { createRequire as __testinRequire } from 'node:module';\nconst require = __testinRequire(import.meta.url);" },
  logLevel: 'warning',
});
// package.json's bin (and every script) names dist/launcher/bin.js: it becomes the bundle's door. Run as a
// program (`testin ...`), it is a shell script that starts node with `--` before it: node (20 to 24 here)
// reads an `--env-file F` anywhere in its argv up to a `--` as its own and exits 9 when F is not there, so
// `testin run --env-file missing IMG` and `testin run IMG node --env-file=.env app.js` died in node before
// testin ran. Run by node (`node dist/launcher/bin.js`), the second line is a comment.
writeFileSync(join(root, 'dist', 'launcher', 'bin.js'), '#!/bin/sh\n//bin/true; exec node -- "$0" "$@"\nimport \'../cli/bin.mjs\';\n');
// over tsc's file, whose mode writeFileSync keeps: a program (npm makes a package's bin one when it installs it)
chmodSync(join(root, 'dist', 'launcher', 'bin.js'), 0o755);
// the run report's JSON Schema, for users who validate reports (README: CI)
writeFileSync(join(root, 'dist', 'report.schema.json'), `${JSON.stringify(RUN_REPORT_SCHEMA, null, 2)}\n`);
const files = ownFiles(root);
writeFileSync(join(root, 'dist', OWN_FILES_RECORD), `${JSON.stringify({ hash: hashOwnFiles(files, nodePin()), node: nodePin() }, null, 2)}\n`);

#!/usr/bin/env node
/**
 * The `testin` command. `--version` answers before anything is loaded; every
 * verb loads what it needs when it runs (launcher/commands/). The build
 * bundles this entry with esbuild (toolbox/bundle.ts): one file per verb's
 * needs, loaded on demand, instead of hundreds of modules.
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  // dist/launcher/bin.js and dist/cli/bin.mjs are both two folders below package.json
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stdout.write(`testin ${version}\n`);
  process.exit(0);
}
// the reader of our output went away (`testin run IMG yes | head -1`: EPIPE): nothing more can be
// written, so this process stops as at SIGTERM, once: a run or an exec gives the command its stop
// signal and leaves nothing; a verb without a stop of its own ends, as a program on a closed pipe does
let readerGone = false;
const onOutputError = (): void => {
  if (readerGone) return;
  readerGone = true;
  process.kill(process.pid, 'SIGTERM');
};
process.stdout.on('error', onOutputError);
process.stderr.on('error', onOutputError);
const [{ main }, { flushed }] = await Promise.all([import('./cli.js'), import('./output-sinks.js')]);
const code = await main(args);
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);

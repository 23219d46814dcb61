// What every bench script shares: where testin is, the test images, its command-line options and the median.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** the CLI, as built by npm run build */
export const testin = join(root, 'dist/launcher/bin.js');

/** builds the images of test/fixtures/build-NAME-image.sh (busybox, debian) when they are absent */
export function fixture(name, ...tags) {
  execFileSync(join(root, `test/fixtures/build-${name}-image.sh`), tags, { stdio: 'inherit' });
}

/** `--name VALUE` from the command line, or the default */
export function option(name, dflt) {
  const args = process.argv.slice(2);
  return args.includes(name) ? args[args.indexOf(name) + 1] : dflt;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

#!/usr/bin/env node
import { main } from './cli.js';

/** Pipe writes may still be queued (our reader was slow): exiting now would drop them. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

const code = await main(process.argv.slice(2));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);

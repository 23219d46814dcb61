#!/usr/bin/env node
import { main } from './cli.js';
import { flushed } from './output-sinks.js';

const code = await main(process.argv.slice(2));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);

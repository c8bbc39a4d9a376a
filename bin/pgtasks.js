#!/usr/bin/env node
import { cli } from '../dist/src/cli/entry.js';

// `pgtasks info-list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = await cli(process.argv.slice(2));

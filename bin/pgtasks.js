#!/usr/bin/env node
import { cli } from '../dist/src/cli/entry.js';

// `pgtasks info-list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const code = await cli(process.argv.slice(2));
// The work is done: exit once stdout and stderr are flushed, whatever a dropped SSH connection
// may still hold open (a keepalive timer of a connection that never reported its close).
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

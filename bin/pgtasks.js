#!/usr/bin/env node
// `pgtasks info-list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const argv = process.argv.slice(2);
// The run happens in this user's persistent pgtasks process, kept PGTASKS_PERSIST seconds after its
// last run (60 by default; 0 runs everything in this process): src/persist/client.ts.
const persist = process.env.PGTASKS_PERSIST === undefined ? 60 : Number(process.env.PGTASKS_PERSIST);
let code = persist > 0 ? await (await import('../dist/src/persist/client.js')).runPersistent(argv, persist) : undefined;
code ??= await (await import('../dist/src/cli/entry.js')).cli(argv);
// The work is done: exit once stdout and stderr are flushed, whatever a dropped SSH connection
// may still hold open (a keepalive timer of a connection that never reported its close).
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

import { serve } from './server.js';

// The persistent process (server.ts), as client.ts starts it: detached, in its own session, from /.
const [path, idleSeconds] = process.argv.slice(2);
if (!path) throw new Error('usage: main.js <socket> <idle seconds>');
// Its socket (and anything else it creates) is the user's alone.
process.umask(0o077);
await serve(path, Math.max(1, Number(idleSeconds) || 60) * 1000);

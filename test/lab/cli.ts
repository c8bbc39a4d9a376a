/**
 * npm run lab -- up 3 [--bind] [--name NAME] | add 1 | status | down
 * Hosts for trying pgtasks on one machine; --bind also starts BIND on 127.0.0.1:15353.
 */
import { join } from 'node:path';
import { startBind } from './bind.js';
import { DEFAULT_LAB, labLayout } from './layout.js';
import { addHosts, labDown, labStatus, labUp, type Lab } from './lab.js';

function print(lab: Lab): void {
  for (const h of lab.hosts) console.log(`${h.name}  ${h.address}`);
  console.log(`inventory: ${lab.inventoryFile}`);
}

async function main(argv: string[]): Promise<number> {
  const nameAt = argv.indexOf('--name');
  const name = nameAt >= 0 ? argv[nameAt + 1]! : DEFAULT_LAB;
  const [command, count] = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--name');
  if (process.getuid?.() !== 0) {
    console.error('lab: run as root (it creates network, mount and pid namespaces)');
    return 1;
  }
  switch (command) {
    case 'up': {
      const lab = await labUp({ hosts: Number(count ?? 3), name });
      print(lab);
      if (argv.includes('--bind')) {
        const bind = await startBind({ dir: join(labLayout(name).dir, 'bind'), detached: true });
        console.log(`bind: 127.0.0.1:${bind.port} zone ${bind.zone}, TSIG key ${bind.keyFile}`);
      }
      return 0;
    }
    case 'add': {
      const lab = await labStatus(name);
      if (!lab) throw new Error(`no lab ${name}: run 'up' first`);
      print(await addHosts(lab, Number(count ?? 1)));
      return 0;
    }
    case 'status': {
      const lab = await labStatus(name);
      if (!lab) console.log(`no lab ${name}`);
      else print(lab);
      return 0;
    }
    case 'down':
      await labDown(name);
      console.log(`lab ${name} removed`);
      return 0;
    default:
      console.error('usage: npm run lab -- up N [--bind] [--name NAME] | add N | status | down');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    console.error(`lab: ${err.message}`);
    process.exitCode = 1;
  },
);

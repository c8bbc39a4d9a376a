import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bash, must } from './shell.js';

export interface Bind {
  port: number;
  zone: string;
  keyName: string;
  keyAlgorithm: string;
  keySecret: string;
  /** nsupdate -k reads this file; mode 0600. */
  keyFile: string;
  dir: string;
  stop(): Promise<void>;
}

export interface BindOptions {
  port?: number;
  zone?: string;
  dir?: string;
  /** Leave named running after this process exits (the lab CLI's --bind); stop() or lab down ends it. */
  detached?: boolean;
}

const KEY_NAME = 'pgtasks-lab';

/** named.conf for a lab: loopback only, no recursion, one zone updatable with the lab's TSIG key. */
function namedConf(dir: string, port: number, zone: string): string {
  return `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { 127.0.0.1; };
  notify no;
  dnssec-validation no;
};
include "${dir}/tsig.key";
zone "${zone}" {
  type primary;
  file "${dir}/${zone}.db";
  update-policy { grant ${KEY_NAME} zonesub ANY; };
};
`;
}

/** A real BIND on 127.0.0.1 for service-name registration, with RFC 2136 updates signed by TSIG. */
export async function startBind(opts: BindOptions = {}): Promise<Bind> {
  const port = opts.port ?? 15353;
  const zone = opts.zone ?? 'lab.pgtasks.test';
  const dir = opts.dir ?? `/var/tmp/pgtasks-lab/bind-${port}`;
  await bash(`pkill -KILL -f 'named -c ${dir}/named.conf'; true`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await must(`cd ${dir} && rm -f *.jnl named.pid && tsig-keygen -a hmac-sha256 ${KEY_NAME} > tsig.key && chmod 0600 tsig.key`);
  await writeFile(join(dir, 'named.conf'), namedConf(dir, port, zone));
  await writeFile(join(dir, `${zone}.db`), `$TTL 60\n@ IN SOA ns.${zone}. admin.${zone}. 1 60 60 600 60\n@ IN NS ns.${zone}.\nns IN A 127.0.0.1\n`);
  const keyText = await readFile(join(dir, 'tsig.key'), 'utf8');
  const log = openSync(join(dir, 'named.log'), 'a');
  const child: ChildProcess = spawn('named', ['-c', join(dir, 'named.conf'), '-f', '-u', 'root', '-4'], {
    detached: !!opts.detached,
    stdio: ['ignore', log, log],
  });
  if (opts.detached) child.unref();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await bash(`dig @127.0.0.1 -p ${port} +short +time=1 +tries=1 SOA ${zone}`);
    if (r.code === 0 && r.stdout.trim()) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`named did not start: ${(await readFile(join(dir, 'named.log'), 'utf8')).split('\n').slice(-5).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    zone,
    keyName: KEY_NAME,
    keyAlgorithm: 'hmac-sha256',
    keySecret: /secret "([^"]+)"/.exec(keyText)![1]!,
    keyFile: join(dir, 'tsig.key'),
    dir,
    stop: async () => {
      child.kill('SIGKILL');
      await bash(`pkill -KILL -f 'named -c ${dir}/named.conf'; true`);
    },
  };
}

import { randomBytes } from 'node:crypto';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { heldCommand } from './held-command.js';
import type { CommandResult, HeldCommand } from './types.js';

/*
 * One long-lived process per host that runs every command pgtasks sends it (mitogen's idea for
 * Ansible). Each SSH exec starts the login user's shell, and bash reads ~/.bashrc even for a remote
 * command: on hosts whose .bashrc loads pyenv, rvm or conda that is ~100 ms per command, more than
 * the command itself. The server pays that once per run; each command is then a fork and exec of
 * /bin/sh, with its own stdin, stdout, stderr and exit status, several at a time.
 *
 * It is Perl because perl-base is Essential on Debian and Ubuntu (always there, like /bin/sh), and a
 * shell cannot frame binary data by length. The protocol, one frame per line plus payload:
 *   controller -> server   X <id> <command bytes> <stdin bytes>\n<command><stdin>   run
 *                          K <id>\n                                                kill its process group
 *                          S <id> <command bytes>\n<command>                       start a held command:
 *                          I <id> <bytes>\n<bytes>                                 its stdin stays open for these,
 *                          E <id>\n                                                until this closes it
 *   server -> controller   R <id> <exit code> <stdout bytes> <stderr bytes>\n<stdout><stderr>
 *                          O <id> <stdout bytes> <stderr bytes>\n<stdout><stderr>  a held command's output, as it comes
 * A held command (the cluster lock's holder) gets its stdin from the server: when the connection goes,
 * the server exits and the command reads end-of-file, as it would on an SSH channel of its own.
 * The server announces itself with a line holding a nonce, so whatever a start-up file prints before
 * it is skipped. It exits when its stdin closes (the connection went away), leaving what still runs as
 * an exec channel's command is left: a run's long commands carry its tag, and the run's lock holder
 * stops them and says which (src/cluster/lock-script.ts), as it always did.
 */
const SERVER = String.raw`
use strict; use warnings; use IO::Select; use POSIX ();
binmode STDIN; binmode STDOUT; $| = 1;
# A held command that has exited must not take the server with it when written to (its children get the default back).
$SIG{PIPE} = 'IGNORE';
my $sel = IO::Select->new(); $sel->add(\*STDIN);
my (%fh, %job, @writers); my $in = '';
sub out { my $d = shift; while (length $d) { my $n = syswrite(STDOUT, $d); die "write: $!" unless defined $n; substr($d, 0, $n) = ''; } }
sub done {
  my $j = shift; return if $j->{open} || !defined $j->{status};
  my $s = $j->{status}; my $code = ($s & 127) ? 128 + ($s & 127) : $s >> 8;
  out("R $j->{id} $code " . length($j->{out}) . ' ' . length($j->{err}) . "\n" . $j->{out} . $j->{err});
  close($j->{in}) if $j->{in};
  delete $job{$j->{id}};
}
sub start {
  my ($id, $cmd, $stdin, $held) = @_;
  pipe(my $ir, my $iw) or die; pipe(my $or, my $ow) or die; pipe(my $er, my $ew) or die;
  my $pid = fork(); die "fork: $!" unless defined $pid;
  if (!$pid) {
    $SIG{PIPE} = 'DEFAULT';
    POSIX::setpgid(0, 0);
    open(STDIN, '<&', $ir); open(STDOUT, '>&', $ow); open(STDERR, '>&', $ew);
    close($_) for ($iw, $or, $er, $ir, $ow, $ew);
    exec('/bin/sh', '-c', $cmd) or POSIX::_exit(127);
  }
  close($_) for ($ir, $ow, $ew);
  if ($held) {
    my $j = { id => $id, pid => $pid, out => '', err => '', open => 2, held => 1, in => $iw };
    $job{$id} = $j; $fh{fileno $or} = [$j, 'out', $or]; $fh{fileno $er} = [$j, 'err', $er];
    $sel->add($or, $er);
    return;
  }
  if (length($stdin) <= 65536) { syswrite($iw, $stdin) if length $stdin; close($iw); }
  else { my $w = fork(); if (!$w) { close($or); close($er); my $o = 0; while ($o < length $stdin) { my $n = syswrite($iw, $stdin, 65536, $o); last unless $n; $o += $n; } POSIX::_exit(0); } close($iw); push @writers, $w; }
  my $j = { id => $id, pid => $pid, out => '', err => '', open => 2 };
  $job{$id} = $j; $fh{fileno $or} = [$j, 'out', $or]; $fh{fileno $er} = [$j, 'err', $er];
  $sel->add($or, $er);
}
print "\@\@pgtasks-server-ready " . $ARGV[0] . "\n";
while (1) {
  # A command whose output has closed is about to exit: look again at once, not in 50 ms.
  my $soon = grep { !$_->{open} && !defined $_->{status} } values %job;
  for my $r ($sel->can_read($soon ? 0.001 : 0.05)) {
    if (fileno($r) == fileno(STDIN)) {
      my $n = sysread(STDIN, my $buf, 1 << 16);
      if (!$n) { exit 0; }
      $in .= $buf;
      while ($in =~ /\A([^\n]*)\n/) {
        my $hl = length($1) + 1; my @h = split / /, $1;
        if ($h[0] eq 'X') {
          last if length($in) < $hl + $h[2] + $h[3];
          my $cmd = substr($in, $hl, $h[2]); my $stdin = substr($in, $hl + $h[2], $h[3]);
          substr($in, 0, $hl + $h[2] + $h[3]) = '';
          start($h[1], $cmd, $stdin);
        } elsif ($h[0] eq 'S' || $h[0] eq 'I') {
          last if length($in) < $hl + $h[2];
          my $data = substr($in, $hl, $h[2]); substr($in, 0, $hl + $h[2]) = '';
          if ($h[0] eq 'S') { start($h[1], $data, '', 1); }
          elsif ($job{$h[1]} && $job{$h[1]}{in}) { syswrite($job{$h[1]}{in}, $data); }
        } elsif ($h[0] eq 'E') {
          substr($in, 0, $hl) = '';
          if ($job{$h[1]} && $job{$h[1]}{in}) { close($job{$h[1]}{in}); delete $job{$h[1]}{in}; }
        } else {
          substr($in, 0, $hl) = '';
          kill('KILL', -$job{$h[1]}{pid}) if $h[0] eq 'K' && $job{$h[1]};
        }
      }
      next;
    }
    my ($j, $which, $f) = @{ $fh{fileno $r} };
    my $n = sysread($r, my $buf, 1 << 16);
    if ($n && $j->{held}) { out("O $j->{id} " . ($which eq 'out' ? "$n 0" : "0 $n") . "\n" . $buf); next; }
    if ($n) { $j->{$which} .= $buf; next; }
    $sel->remove($r); delete $fh{fileno $r}; close($r); $j->{open}--; done($j);
  }
  for my $j (values %job) {
    next if defined $j->{status};
    my $p = waitpid($j->{pid}, POSIX::WNOHANG());
    next unless $p > 0;
    $j->{status} = $?; $j->{exited} = time;
    done($j);
  }
  # A daemon the command started may keep its output open: 2 s after the command exited, stop waiting.
  for my $j (values %job) {
    next unless defined $j->{status} && $j->{open} && time - $j->{exited} >= 2;
    for my $k (keys %fh) { next unless $fh{$k}[0] == $j; $sel->remove($fh{$k}[2]); close($fh{$k}[2]); delete $fh{$k}; }
    $j->{open} = 0; done($j);
  }
  @writers = grep { waitpid($_, POSIX::WNOHANG()) == 0 } @writers;
}
`;

/** A fresh nonce for the ready line: start-up noise can never be taken for it. */
export function serverNonce(): string {
  return randomBytes(8).toString('hex');
}

/** The shell command that starts the server: its script as an argument (it holds no secret), the nonce for the ready line. */
export function serverCommand(nonce: string): string {
  return `exec perl -e '${SERVER.replace(/'/g, `'\\''`)}' ${nonce}`;
}

interface Pending {
  resolve: (r: CommandResult) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

/** The controller's side of one command server: commands in, results out, matched by id. */
export class CommandServer {
  /** Resolves true once the server announced itself, false if it could not start (no perl, the channel closed). */
  readonly ready: Promise<boolean>;
  private buf = Buffer.alloc(0);
  private started = false;
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Held commands by id: their output streams, and how they end. */
  private readonly held = new Map<number, { stdout: PassThrough; stderr: PassThrough; end: (code: number | null) => void }>();

  constructor(
    nonce: string,
    private readonly stdin: Writable,
    stdout: Readable,
    onClosed: (listener: () => void) => void,
    readyTimeoutMs = 10_000,
  ) {
    let announce!: (ok: boolean) => void;
    this.ready = new Promise<boolean>((r) => (announce = r));
    const timer = setTimeout(() => announce(false), readyTimeoutMs);
    const marker = Buffer.from(`@@pgtasks-server-ready ${nonce}\n`);
    stdout.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      if (!this.started) {
        const at = this.buf.indexOf(marker);
        if (at < 0) return;
        this.buf = this.buf.subarray(at + marker.length);
        this.started = true;
        clearTimeout(timer);
        announce(true);
      }
      this.parse();
    });
    onClosed(() => {
      this.closed = true;
      clearTimeout(timer);
      announce(false);
      for (const p of this.pending.values()) p.reject(new Error('the command server on the host went away (connection lost)'));
      this.pending.clear();
      for (const h of this.held.values()) h.end(null);
      this.held.clear();
    });
  }

  get alive(): boolean {
    return this.started && !this.closed;
  }

  private parse(): void {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const header = this.buf.subarray(0, nl).toString('latin1').split(' ');
      if (header[0] === 'O') {
        // A held command's output: bytes, passed on as they come (a chunk may split a character).
        const [, id, outLen, errLen] = header;
        const total = nl + 1 + Number(outLen) + Number(errLen);
        if (this.buf.length < total) return;
        const h = this.held.get(Number(id));
        h?.stdout.write(this.buf.subarray(nl + 1, nl + 1 + Number(outLen)));
        h?.stderr.write(this.buf.subarray(nl + 1 + Number(outLen), total));
        this.buf = this.buf.subarray(total);
        continue;
      }
      const [tag, id, code, outLen, errLen] = header;
      if (tag !== 'R') throw new Error(`command server: unexpected frame '${tag}'`);
      const total = nl + 1 + Number(outLen) + Number(errLen);
      if (this.buf.length < total) return;
      const stdout = this.buf.subarray(nl + 1, nl + 1 + Number(outLen)).toString('utf8');
      const stderr = this.buf.subarray(nl + 1 + Number(outLen), total).toString('utf8');
      this.buf = this.buf.subarray(total);
      const h = this.held.get(Number(id));
      if (h) {
        this.held.delete(Number(id));
        h.end(Number(code));
        continue;
      }
      const p = this.pending.get(Number(id));
      if (!p) continue;
      this.pending.delete(Number(id));
      if (p.timer) clearTimeout(p.timer);
      p.resolve({ code: Number(code), stdout, stderr });
    }
  }

  /** Runs `command` (shell text for /bin/sh -c) with `stdin`; on timeout its process group is killed. */
  run(command: string, stdin: string | Buffer = '', timeoutMs?: number): Promise<CommandResult> {
    if (!this.alive) return Promise.reject(new Error('the command server is not running'));
    const id = this.nextId++;
    const cmd = Buffer.from(command, 'utf8');
    const input = typeof stdin === 'string' ? Buffer.from(stdin, 'utf8') : stdin;
    return new Promise<CommandResult>((resolve, reject) => {
      const p: Pending = { resolve, reject };
      if (timeoutMs) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          this.stdin.write(`K ${id}\n`);
          reject(new Error(`command timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.pending.set(id, p);
      this.stdin.write(Buffer.concat([Buffer.from(`X ${id} ${cmd.length} ${input.length}\n`), cmd, input]));
    });
  }

  /**
   * Starts `command` with its stdin held open (written with I frames, closed with E), its output passed
   * on as it comes: Connection.start() without an SSH exec, so without the login shell's start-up files.
   */
  start(command: string): HeldCommand {
    if (!this.alive) throw new Error('the command server is not running');
    const id = this.nextId++;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let ended: (code: number | null) => void = () => {};
    const closed = new Promise<number | null>((resolve) => (ended = resolve));
    this.held.set(id, {
      stdout,
      stderr,
      end: (code) => {
        stdout.end();
        stderr.end();
        ended(code);
      },
    });
    const send = (frame: Buffer) => (this.closed ? undefined : this.stdin.write(frame));
    const stdin = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        send(Buffer.concat([Buffer.from(`I ${id} ${chunk.length}\n`), chunk]));
        callback();
      },
      final: (callback) => {
        send(Buffer.from(`E ${id}\n`));
        callback();
      },
    });
    const cmd = Buffer.from(command, 'utf8');
    this.stdin.write(Buffer.concat([Buffer.from(`S ${id} ${cmd.length}\n`), cmd]));
    // Its end is reported once both output streams have been read to the end (as an SSH channel's close).
    const drained = Promise.all([new Promise((r) => stdout.once('end', r)), new Promise((r) => stderr.once('end', r))]);
    return heldCommand({ stdin, stdout, stderr, onClose: (done) => void Promise.all([closed, drained]).then(([code]) => done(code)) });
  }

  close(): void {
    this.stdin.end();
  }
}

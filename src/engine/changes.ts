/**
 * When the engine last changed each host, as a sequence number: facts read at mark N are stale for a
 * host changed after N. Kept by the Run (HostContext reports each change), so a role never has to
 * remember to say it changed something: the engine knows, because it ran the actions.
 */
export class ChangeLog {
  private seq = 0;
  private readonly last = new Map<string, number>();

  record(host: string): void {
    this.last.set(host, ++this.seq);
  }

  /** A mark to compare later changes with (take it when facts are read). */
  mark(): number {
    return this.seq;
  }

  /** The hosts changed after `mark`, as a live set-like view. */
  since(mark: number): ChangedSince {
    return new ChangedSince(this, mark);
  }

  changedAfter(host: string, mark: number): boolean {
    return (this.last.get(host) ?? 0) > mark;
  }

  hosts(): string[] {
    return [...this.last.keys()];
  }
}

/** The hosts a run changed after a mark: what a cluster's facts no longer describe. */
export class ChangedSince {
  private readonly extra = new Set<string>();
  constructor(
    private readonly log: ChangeLog,
    private readonly mark: number,
  ) {}

  has(host: string): boolean {
    return this.extra.has(host) || this.log.changedAfter(host, this.mark);
  }

  /** Marks a host whose facts no longer hold although this run did not change it (a replica's walsender left). */
  add(host: string): void {
    this.extra.add(host);
  }

  [Symbol.iterator](): Iterator<string> {
    return [...new Set([...this.extra, ...this.log.hosts().filter((h) => this.has(h))])][Symbol.iterator]();
  }
}

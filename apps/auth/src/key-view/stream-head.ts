/** The end of the key event stream: its last sequence, on the stream made at `created`. */
export interface StreamPoint {
  sequence: number;
  /** The stream's creation time: one made anew under the same name numbers its messages from 1 again. */
  created: string;
}

interface Round<T> {
  promise: Promise<T>;
  resolve: (answer: T) => void;
  reject: (error: unknown) => void;
}

/**
 * The key event stream's last sequence, asked of JetStream on behalf of many callers.
 *
 * Each caller gets an answer from a request sent after it asked: an answer fetched earlier
 * could predate the event the caller needs (a key created a moment ago), so a plain cache
 * would break read-your-writes. Callers that arrive while a request is out wait together
 * for the next one, which starts when the current one ends and no sooner than `minGapMs`
 * after it started: a flood of unknown keys costs at most one request in flight and at most
 * one every `minGapMs`, and an unknown key's answer waits a few milliseconds more.
 */
export class StreamHead<T = StreamPoint> {
  private next: Round<T> | undefined;
  private inFlight = false;
  private lastStartedAt = Number.NEGATIVE_INFINITY;
  private scheduled = false;

  constructor(
    private readonly fetch: () => Promise<T>,
    private readonly minGapMs = 5,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  current(): Promise<T> {
    if (this.next) return this.next.promise;
    const next = round<T>();
    this.next = next;
    this.schedule();
    return next.promise;
  }

  /** Starts on a later turn of the event loop, so misses from one burst of messages share a request. */
  private schedule(): void {
    if (this.inFlight || this.scheduled || !this.next) return;
    this.scheduled = true;
    const wait = this.lastStartedAt + this.minGapMs - this.clock();
    const start = () => {
      this.scheduled = false;
      this.start();
    };
    if (wait > 0) setTimeout(start, wait);
    else setImmediate(start);
  }

  private start(): void {
    const round = this.next;
    if (!round) return;
    this.next = undefined;
    this.inFlight = true;
    this.lastStartedAt = this.clock();
    this.fetch()
      .then(round.resolve, round.reject)
      .finally(() => {
        this.inFlight = false;
        this.schedule();
      });
  }
}

function round<T>(): Round<T> {
  let resolve!: Round<T>['resolve'];
  let reject!: Round<T>['reject'];
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that gave up must not turn a failed round into an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

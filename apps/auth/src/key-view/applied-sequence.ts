interface Waiter {
  sequence: number;
  /** The stream (its creation time) the sequence is on; undefined for whichever the view follows. */
  stream: string | undefined;
  resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * How far into the stream the view has got, and a way to wait until it gets somewhere. A stream
 * made anew under the same name numbers its messages from 1 again, so a sequence means something
 * only with the stream it is on, named by its creation time.
 */
export class AppliedSequence {
  private current = 0;
  private stream: string | undefined;
  private waiters: Waiter[] = [];
  /**
   * Told when a caller waits for a sequence on another stream than the one the view follows: one
   * made anew that the follower has not noticed yet (a consumer the server dropped without a word
   * is found only after missed heartbeats).
   */
  onOtherStream: ((stream: string) => void) | undefined;

  get value(): number {
    return this.current;
  }

  advance(sequence: number): void {
    if (sequence <= this.current) return;
    this.current = sequence;
    this.wakeReached();
  }

  /**
   * Starts counting again from nothing on `stream` (its creation time): the stream was made anew
   * and numbers its messages from 1, or the view is folded again from its first message. Waiters
   * keep waiting, for that sequence on the new stream.
   */
  restart(stream: string): void {
    this.current = 0;
    this.stream = stream;
    this.wakeReached();
  }

  /**
   * Resolves true once `sequence` is applied, on `stream` when given (a creation time), or false
   * after `timeoutMs` (no limit when omitted).
   */
  reached(sequence: number, timeoutMs?: number, stream?: string): Promise<boolean> {
    if (this.isReached({ sequence, stream })) return Promise.resolve(true);
    if (stream !== undefined && stream !== this.stream) this.onOtherStream?.(stream);
    return new Promise((resolve) => {
      const waiter: Waiter = { sequence, stream, resolve, timer: undefined };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          resolve(false);
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  private isReached({ sequence, stream }: Pick<Waiter, 'sequence' | 'stream'>): boolean {
    return (stream === undefined || stream === this.stream) && sequence <= this.current;
  }

  private wakeReached(): void {
    if (this.waiters.length === 0) return;
    const reached = this.waiters.filter((waiter) => this.isReached(waiter));
    this.waiters = this.waiters.filter((waiter) => !this.isReached(waiter));
    for (const waiter of reached) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  /** Lets every waiter go, unreached: the follower is stopping. */
  release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
  }
}

interface Waiter {
  sequence: number;
  resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

/** How far into the stream the view has got, and a way to wait until it gets somewhere. */
export class AppliedSequence {
  private current = 0;
  private waiters: Waiter[] = [];

  get value(): number {
    return this.current;
  }

  advance(sequence: number): void {
    if (sequence <= this.current) return;
    this.current = sequence;
    if (this.waiters.length === 0) return;
    const reached = this.waiters.filter((waiter) => waiter.sequence <= sequence);
    this.waiters = this.waiters.filter((waiter) => waiter.sequence > sequence);
    for (const waiter of reached) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  /**
   * Starts counting again from nothing: the stream was made anew and numbers its messages from
   * 1. Waiters keep waiting, for that sequence on the new stream.
   */
  restart(): void {
    this.current = 0;
  }

  /** Resolves true once `sequence` is applied, or false after `timeoutMs` (no limit when omitted). */
  reached(sequence: number, timeoutMs?: number): Promise<boolean> {
    if (sequence <= this.current) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { sequence, resolve, timer: undefined };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          resolve(false);
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
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

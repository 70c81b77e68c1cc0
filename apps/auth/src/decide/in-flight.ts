import { orAfter } from '@keyplane/runtime';

/** Counts handlers still running, so shutdown can wait for their usage events before flushing. */
export class InFlight {
  private count = 0;
  private idleWaiters: (() => void)[] = [];

  async run<T>(work: () => Promise<T>): Promise<T> {
    this.count++;
    try {
      return await work();
    } finally {
      this.count--;
      if (this.count === 0) this.release();
    }
  }

  /** Resolves once no handler runs, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    if (this.count === 0) return;
    await orAfter(new Promise<void>((resolve) => this.idleWaiters.push(resolve)), timeoutMs, undefined);
  }

  private release(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}

import { WakeableSleep } from './wakeable-sleep.js';

export interface WakeableLoopOptions {
  /** One pass of work; returns how much it did. */
  pass: () => Promise<number>;
  /** How long to wait after a pass that found nothing to do, unless woken sooner. */
  idleMs: number;
  onError: (error: unknown) => void;
}

/**
 * Runs a pass again at once after a pass that did work, else after `idleMs` or as soon as
 * `wake()` is called. A wake that comes while a pass runs is kept, so the pass after it starts
 * at once: work appended just after a pass read its input never waits out a whole interval.
 */
export class WakeableLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private woken = false;
  private readonly sleeper = new WakeableSleep();

  constructor(private readonly options: WakeableLoopOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  wake(): void {
    this.woken = true;
    this.sleeper.wake();
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let done = 0;
      try {
        done = await this.options.pass();
      } catch (error) {
        this.options.onError(error);
      }
      if (done === 0 && this.running) await this.idle();
    }
  }

  private idle(): Promise<void> {
    if (this.woken) return Promise.resolve();
    return this.sleeper.sleep(this.options.idleMs);
  }
}

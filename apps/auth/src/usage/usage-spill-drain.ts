import type { Logger } from '@keyplane/observability';
import { orAfter, WakeableSleep } from '@keyplane/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DrainedMessages } from './usage-spill-store.js';

export interface UsageSpillDrainOptions {
  /** One pass: publishes the oldest spilled messages no other replica holds, deletes those taken (`UsageSpillStore.drain`). */
  drain: () => Promise<DrainedMessages>;
  /** Events waiting in the spill table, for `auth_usage_spill_events`. */
  waitingEvents: () => Promise<number>;
  logger: Logger;
  registry: Registry;
  /**
   * How often an idle replica looks at the table: rows a replica spilled and could not drain
   * (it died, or was stopped) are published by the others within this.
   */
  pollMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** How long a scrape waits for the table's count: a Postgres that does not answer reads NaN, "unknown", without holding up the other series. */
const WAITING_EVENTS_TIMEOUT_MS = 1000;
/** How long shutdown waits for a pass under way: a pass waits on Postgres, which may not answer. */
const STOP_TIMEOUT_MS = 5000;

/**
 * Publishes spilled usage messages again, oldest first, once the stream takes writes: at once
 * after a pass that published something, with backoff while the stream (or Postgres) refuses,
 * and every `pollMs` when there is nothing to do, unless woken sooner by a spill of this replica.
 * Every replica runs one; the table's row locks keep them off each other's messages.
 */
export class UsageSpillDrain {
  private readonly pollMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private retryDelayMs = 0;
  /** Events published since the table was last found empty, for the line that says it is empty again. */
  private drainedSinceIdle = 0;
  private woken = false;
  private readonly sleeper = new WakeableSleep();
  private readonly metrics: { messages: Counter; events: Counter };

  constructor(private readonly options: UsageSpillDrainOptions) {
    this.pollMs = options.pollMs ?? 3000;
    this.retryInitialMs = options.retryInitialMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    const registers = [options.registry];
    const waitingEvents = options.waitingEvents;
    new Gauge({
      name: 'auth_usage_spill_events',
      help: 'Usage events spilled to Postgres (by any replica) and not yet published to the usage stream; NaN when Postgres does not answer',
      registers,
      async collect() {
        this.set(await orAfter(waitingEvents(), WAITING_EVENTS_TIMEOUT_MS, NaN).catch(() => NaN));
      },
    });
    this.metrics = {
      messages: new Counter({ name: 'auth_usage_messages_drained_total', help: 'Spilled usage messages this replica published to the usage stream and removed from Postgres', registers }),
      events: new Counter({ name: 'auth_usage_events_drained_total', help: 'Usage events in the spilled messages this replica published', registers }),
    };
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** A pass soon: this replica has just spilled. While the stream refuses, the backoff stands. */
  wake(): void {
    this.woken = true;
    if (this.retryDelayMs === 0) this.sleeper.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.sleeper.wake();
    await orAfter(this.loop, STOP_TIMEOUT_MS, undefined);
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      const waitMs = await this.pass();
      if (this.running && waitMs > 0 && !(this.woken && this.retryDelayMs === 0)) await this.sleeper.sleep(waitMs);
    }
  }

  /** One pass; returns how long to wait before the next. */
  private async pass(): Promise<number> {
    let drained: DrainedMessages;
    try {
      drained = await this.options.drain();
    } catch (error) {
      return this.refused(error);
    }
    this.metrics.messages.inc(drained.messages);
    this.metrics.events.inc(drained.events);
    this.drainedSinceIdle += drained.events;
    if (drained.refused > 0) return this.refused(new Error(`the usage stream refused ${drained.refused} of ${drained.messages + drained.refused} spilled messages`));
    if (this.retryDelayMs > 0) {
      this.options.logger.warn('spilled usage events are being published again');
      this.retryDelayMs = 0;
    }
    if (drained.messages > 0) return 0;
    if (this.drainedSinceIdle > 0) this.options.logger.info({ events: this.drainedSinceIdle }, 'published every spilled usage event');
    this.drainedSinceIdle = 0;
    return this.pollMs;
  }

  private refused(error: unknown): number {
    if (this.retryDelayMs === 0) this.options.logger.warn({ err: error }, 'cannot publish spilled usage events yet; retrying with backoff');
    this.retryDelayMs = this.retryDelayMs === 0 ? this.retryInitialMs : Math.min(this.retryMaxMs, this.retryDelayMs * 2);
    return this.retryDelayMs;
  }
}

import type { UsageRecorded } from '@keyplane/contracts';
import type { Logger } from '@keyplane/observability';
import { orAfter } from '@keyplane/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface UsagePublisherOptions {
  /** Publishes one event and resolves once the broker has stored it; must be idempotent per eventId. */
  publish: (event: UsageRecorded) => Promise<void>;
  logger: Logger;
  registry: Registry;
  /** Events held at most, queued or being published; past it the oldest queued event is dropped. */
  capacity?: number;
  /** Publishes awaiting their acknowledgement at once. */
  concurrency?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/**
 * Usage events leave the decision's critical path: `record` only queues, publishing starts
 * on a later turn of the event loop (after the reply went out). Failures go back to the
 * front of a bounded in-memory queue and are retried with exponential backoff; `flush`
 * (SIGTERM) waits for every pending event. What can still be lost is in the README.
 */
export class UsagePublisher {
  private readonly capacity: number;
  private readonly concurrency: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private queue: UsageRecorded[] = [];
  private inFlight = 0;
  private pumpScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 0;
  private droppedSinceHealthy = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly metrics: { published: Counter; failures: Counter; dropped: Counter };

  constructor(private readonly options: UsagePublisherOptions) {
    this.capacity = options.capacity ?? 10_000;
    this.concurrency = Math.min(options.concurrency ?? 64, this.capacity);
    this.retryInitialMs = options.retryInitialMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    const registers = [options.registry];
    const pending = () => this.pending;
    new Gauge({
      name: 'auth_usage_events_pending',
      help: 'Usage events held in memory, queued or awaiting the broker',
      registers,
      collect() {
        this.set(pending());
      },
    });
    this.metrics = {
      published: new Counter({ name: 'auth_usage_events_published_total', help: 'Usage events the broker acknowledged', registers }),
      failures: new Counter({ name: 'auth_usage_publish_failures_total', help: 'Usage event publishes that failed and were queued again', registers }),
      dropped: new Counter({ name: 'auth_usage_events_dropped_total', help: 'Usage events dropped because the queue was full', registers }),
    };
  }

  record(event: UsageRecorded): void {
    if (this.pending >= this.capacity) {
      const dropped = this.queue.length > 0 ? this.queue.shift() : event;
      this.drop(dropped);
      if (dropped === event) return;
    }
    this.queue.push(event);
    this.schedule();
  }

  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /**
   * Publishes everything pending, retrying as usual, until done or `timeoutMs` passed;
   * returns how many events were left unpublished (and logs them as lost).
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.pending > 0) {
      this.schedule();
      await orAfter(new Promise<void>((resolve) => this.idleWaiters.push(resolve)), timeoutMs, undefined);
    }
    const lost = this.pending;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (lost > 0) this.options.logger.error({ lost, timeoutMs }, 'usage events not published before shutdown; they are lost');
    return lost;
  }

  private schedule(): void {
    if (this.pumpScheduled || this.retryTimer) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.stopped && !this.retryTimer && this.inFlight < this.concurrency && this.queue.length > 0) {
      const event = this.queue.shift() as UsageRecorded;
      this.inFlight++;
      this.options.publish(event).then(
        () => this.published(),
        (error: unknown) => this.failed(event, error),
      );
    }
  }

  private published(): void {
    this.inFlight--;
    this.metrics.published.inc();
    if (this.retryDelayMs > 0 || this.droppedSinceHealthy > 0) {
      this.options.logger.info({ dropped: this.droppedSinceHealthy, pending: this.pending }, 'usage events are being published again');
      this.retryDelayMs = 0;
      this.droppedSinceHealthy = 0;
    }
    this.pump();
    this.notifyIfIdle();
  }

  private failed(event: UsageRecorded, error: unknown): void {
    this.inFlight--;
    this.metrics.failures.inc();
    if (!this.stopped) this.queue.unshift(event);
    if (!this.retryTimer && !this.stopped) {
      this.retryDelayMs = this.retryDelayMs === 0 ? this.retryInitialMs : Math.min(this.retryMaxMs, this.retryDelayMs * 2);
      this.options.logger.warn({ err: error, pending: this.pending, retryInMs: this.retryDelayMs }, 'usage event publish failed; retrying');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, this.retryDelayMs);
    }
    this.notifyIfIdle();
  }

  private drop(event: UsageRecorded | undefined): void {
    this.metrics.dropped.inc();
    if (this.droppedSinceHealthy === 0) {
      this.options.logger.error(
        { capacity: this.capacity, eventId: event?.eventId },
        'usage event queue full; dropping the oldest events until the broker takes them again',
      );
    }
    this.droppedSinceHealthy++;
  }

  private notifyIfIdle(): void {
    if (this.pending > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}

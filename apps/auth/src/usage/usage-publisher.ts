import { encodeUsageBatch, usageBatchBytes, type UsageRecorded } from '@keyplane/contracts';
import { encodeJson } from '@keyplane/nats';
import type { Logger } from '@keyplane/observability';
import { orAfter } from '@keyplane/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';

/** One message of the usage stream: its events, and the `UsageBatch` JSON that carries them. */
export interface UsageMessage {
  events: readonly UsageRecorded[];
  body: Uint8Array;
}

export interface UsagePublisherOptions {
  /**
   * Publishes one message and resolves once the broker has stored it; must be idempotent per
   * list of events (a message that failed comes back with the same events).
   */
  publish: (message: UsageMessage) => Promise<void>;
  logger: Logger;
  registry: Registry;
  /** Events held at most, queued or being published; past it the oldest queued event is dropped. */
  capacity?: number;
  /** Messages awaiting their acknowledgement at once. */
  concurrency?: number;
  /** Events in one message at most. */
  maxBatch?: number;
  /**
   * Bytes in one message at most, below the broker's `max_payload` (1 MiB by default). An event
   * is at most about 60 KB (`DecideRequest` bounds its strings), so it always fits alone.
   */
  maxBatchBytes?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** Events taken into one message, each with its JSON. */
interface Batch {
  events: UsageRecorded[];
  encoded: Uint8Array[];
}

/**
 * Usage events leave the decision's critical path: `record` only queues, publishing starts
 * on a later turn of the event loop (after the reply went out). What queued meanwhile goes
 * in one message: under load a turn decides many requests at once, so batches grow with the
 * load while no event waits longer than it did alone. A failed message is kept whole and
 * retried first, with exponential backoff, so it keeps its message id; `flush` (SIGTERM)
 * waits for every pending event. What can still be lost is in the README.
 */
export class UsagePublisher {
  private readonly capacity: number;
  private readonly concurrency: number;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private queue: UsageRecorded[] = [];
  /** Batches whose publish failed, oldest first: sent again as they were. */
  private failedBatches: Batch[] = [];
  private inFlight = 0;
  private inFlightEvents = 0;
  private pumpScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 0;
  private droppedSinceHealthy = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly metrics: { published: Counter; messages: Counter; failures: Counter; dropped: Counter };

  constructor(private readonly options: UsagePublisherOptions) {
    this.capacity = options.capacity ?? 10_000;
    this.concurrency = options.concurrency ?? 64;
    this.maxBatch = options.maxBatch ?? 100;
    this.maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
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
      messages: new Counter({ name: 'auth_usage_messages_published_total', help: 'Usage stream messages the broker acknowledged, each carrying one or more events', registers }),
      failures: new Counter({ name: 'auth_usage_publish_failures_total', help: 'Usage message publishes that failed and were queued again', registers }),
      dropped: new Counter({ name: 'auth_usage_events_dropped_total', help: 'Usage events dropped because the queue was full', registers }),
    };
  }

  record(event: UsageRecorded): void {
    if (this.pending >= this.capacity) {
      const dropped = this.takeOldestQueued() ?? event;
      this.drop(dropped);
      if (dropped === event) return;
    }
    this.queue.push(event);
    this.schedule();
  }

  get pending(): number {
    return this.queue.length + this.failedBatches.reduce((sum, batch) => sum + batch.events.length, 0) + this.inFlightEvents;
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
    while (!this.stopped && !this.retryTimer && this.inFlight < this.concurrency) {
      const batch = this.failedBatches.shift() ?? this.takeBatch();
      if (!batch) return;
      this.inFlight++;
      this.inFlightEvents += batch.events.length;
      this.options.publish({ events: batch.events, body: encodeUsageBatch(batch.encoded) }).then(
        () => this.published(batch),
        (error: unknown) => this.failed(batch, error),
      );
    }
  }

  /** The oldest queued events, as many as fit in `maxBatch` events and `maxBatchBytes`, and at least one. */
  private takeBatch(): Batch | undefined {
    const encoded: Uint8Array[] = [];
    let bytes = usageBatchBytes(encoded);
    for (const event of this.queue) {
      if (encoded.length === this.maxBatch) break;
      const json = encodeJson(event);
      // As usageBatchBytes counts: the event, and a comma before every one but the first.
      const grown = bytes + json.length + (encoded.length > 0 ? 1 : 0);
      if (encoded.length > 0 && grown > this.maxBatchBytes) break;
      encoded.push(json);
      bytes = grown;
    }
    if (encoded.length === 0) return undefined;
    return { events: this.queue.splice(0, encoded.length), encoded };
  }

  private published(batch: Batch): void {
    this.settle(batch);
    this.metrics.messages.inc();
    this.metrics.published.inc(batch.events.length);
    if (this.retryDelayMs > 0 || this.droppedSinceHealthy > 0) {
      this.options.logger.info({ dropped: this.droppedSinceHealthy, pending: this.pending }, 'usage events are being published again');
      this.retryDelayMs = 0;
      this.droppedSinceHealthy = 0;
    }
    this.pump();
    this.notifyIfIdle();
  }

  private failed(batch: Batch, error: unknown): void {
    this.settle(batch);
    this.metrics.failures.inc();
    if (!this.stopped) this.failedBatches.push(batch);
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

  private settle(batch: Batch): void {
    this.inFlight--;
    this.inFlightEvents -= batch.events.length;
  }

  /** The oldest event not awaiting the broker: a failed batch loses its first event, which gives it a new message id. */
  private takeOldestQueued(): UsageRecorded | undefined {
    const oldest = this.failedBatches[0];
    if (!oldest) return this.queue.shift();
    oldest.encoded.shift();
    const event = oldest.events.shift();
    if (oldest.events.length === 0) this.failedBatches.shift();
    return event;
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

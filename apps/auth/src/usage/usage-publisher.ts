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
  /**
   * Stores messages the stream refused in Postgres, for a replica's drain to publish later
   * (`UsageSpillStore.spill`), and resolves once they are committed; a message stored twice
   * must be kept once.
   */
  spill: (messages: readonly UsageMessage[]) => Promise<void>;
  logger: Logger;
  registry: Registry;
  /**
   * Events in memory at most (queued, held, or on their way to the broker or Postgres); past it
   * the oldest not on its way is dropped. Reached only while Postgres refuses (or cannot keep up
   * with) the spill too.
   */
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
  /** A spill unanswered for this long counts as refused: its messages are held in memory again. */
  spillTimeoutMs?: number;
  /** Messages in one spill write at most. */
  maxSpillMessages?: number;
}

/** Events taken into one message, each with its JSON, and the message's body once built. */
interface Batch {
  events: UsageRecorded[];
  encoded: Uint8Array[];
  body?: Uint8Array;
}

/**
 * Usage events leave the decision's critical path: `record` only queues, publishing starts
 * on a later turn of the event loop (after the reply went out). What queued meanwhile goes
 * in one message: under load a turn decides many requests at once, so batches grow with the
 * load while no event waits longer than it did alone. While the stream refuses messages they
 * are spilled to Postgres, where a replica's drain publishes them later and a kill cannot take
 * them; the stream is retried with exponential backoff. Only when Postgres refuses too are
 * they held in memory, up to `capacity`, each failed message kept whole so it keeps its
 * message id. `flush` (SIGTERM) publishes, or else spills, every pending event. What can still
 * be lost is in the README.
 */
export class UsagePublisher {
  private readonly capacity: number;
  private readonly concurrency: number;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly spillTimeoutMs: number;
  private readonly maxSpillMessages: number;
  private queue: UsageRecorded[] = [];
  /** Batches the stream refused and Postgres has not taken, oldest first: sent again as they were. */
  private held: Batch[] = [];
  private readonly publishing = new Set<Batch>();
  /** The batches of the spill write under way; one at a time, what arrives meanwhile goes in the next. */
  private spilling: Batch[] | undefined;
  /** Events publishing or spilling. */
  private inFlightEvents = 0;
  private pumpScheduled = false;
  /** Set while the stream is being left alone after a refusal: until it fires, messages are spilled, not sent. */
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 0;
  /** The last spill failed: no other until the retry timer fires, which tries the stream and Postgres again. */
  private spillRefused = false;
  private spilledSinceHealthy = 0;
  private droppedSinceHealthy = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly metrics: {
    published: Counter;
    messages: Counter;
    failures: Counter;
    dropped: Counter;
    spilledMessages: Counter;
    spilledEvents: Counter;
    spillFailures: Counter;
  };

  constructor(private readonly options: UsagePublisherOptions) {
    this.capacity = options.capacity ?? 10_000;
    this.concurrency = options.concurrency ?? 64;
    this.maxBatch = options.maxBatch ?? 100;
    this.maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
    this.retryInitialMs = options.retryInitialMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    this.spillTimeoutMs = options.spillTimeoutMs ?? 2000;
    this.maxSpillMessages = options.maxSpillMessages ?? 1000;
    const registers = [options.registry];
    const pending = () => this.pending;
    new Gauge({
      name: 'auth_usage_events_pending',
      help: 'Usage events held in memory, queued or awaiting the broker or Postgres',
      registers,
      collect() {
        this.set(pending());
      },
    });
    this.metrics = {
      published: new Counter({ name: 'auth_usage_events_published_total', help: 'Usage events the broker acknowledged', registers }),
      messages: new Counter({ name: 'auth_usage_messages_published_total', help: 'Usage stream messages the broker acknowledged, each carrying one or more events', registers }),
      failures: new Counter({ name: 'auth_usage_publish_failures_total', help: 'Usage message publishes that failed and were spilled or queued again', registers }),
      dropped: new Counter({ name: 'auth_usage_events_dropped_total', help: 'Usage events dropped because the queue was full (the stream and Postgres both refusing)', registers }),
      spilledMessages: new Counter({ name: 'auth_usage_messages_spilled_total', help: 'Usage messages stored in Postgres for the drain, while the stream refused writes or at shutdown', registers }),
      spilledEvents: new Counter({ name: 'auth_usage_events_spilled_total', help: 'Usage events in the messages stored in Postgres for the drain', registers }),
      spillFailures: new Counter({ name: 'auth_usage_spill_failures_total', help: 'Spill writes Postgres refused or did not answer in time; their events were held in memory', registers }),
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

  /** Events in memory: queued, held, or on their way to the broker or Postgres. */
  get pending(): number {
    return this.queue.length + this.held.reduce((sum, batch) => sum + batch.events.length, 0) + this.inFlightEvents;
  }

  /**
   * Publishes everything pending, retrying (and spilling) as usual, until done or `timeoutMs`
   * passed; then spills whatever is left, the messages still awaiting the broker included.
   * Returns how many events neither reached the stream nor Postgres (and logs them as lost).
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.pending > 0) {
      this.schedule();
      await orAfter(new Promise<void>((resolve) => this.idleWaiters.push(resolve)), timeoutMs, undefined);
    }
    this.stopped = true;
    clearTimeout(this.retryTimer);
    return this.spillRemaining(timeoutMs);
  }

  private schedule(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.stopped) return;
    if (this.retryTimer) {
      this.spillHeld();
      return;
    }
    while (this.publishing.size < this.concurrency) {
      const batch = this.held.shift() ?? this.takeBatch();
      if (!batch) return;
      this.publishing.add(batch);
      this.inFlightEvents += batch.events.length;
      this.options.publish(this.message(batch)).then(
        () => this.published(batch),
        (error: unknown) => this.failed(batch, error),
      );
    }
  }

  private message(batch: Batch): UsageMessage {
    batch.body ??= encodeUsageBatch(batch.encoded);
    return { events: batch.events, body: batch.body };
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
    this.publishing.delete(batch);
    this.inFlightEvents -= batch.events.length;
    this.metrics.messages.inc();
    this.metrics.published.inc(batch.events.length);
    if (this.retryDelayMs > 0 || this.droppedSinceHealthy > 0 || this.spilledSinceHealthy > 0) {
      const context = { spilled: this.spilledSinceHealthy, dropped: this.droppedSinceHealthy, pending: this.pending };
      // The end of an outage that cost something is worth the same attention as its start.
      if (context.spilled > 0 || context.dropped > 0) this.options.logger.warn(context, 'usage events are being published again');
      else this.options.logger.info(context, 'usage events are being published again');
      this.retryDelayMs = 0;
      this.droppedSinceHealthy = 0;
      this.spilledSinceHealthy = 0;
    }
    this.pump();
    this.notifyIfIdle();
  }

  private failed(batch: Batch, error: unknown): void {
    this.publishing.delete(batch);
    this.inFlightEvents -= batch.events.length;
    this.metrics.failures.inc();
    if (this.stopped) return;
    this.held.push(batch);
    if (!this.retryTimer) {
      this.retryDelayMs = this.retryDelayMs === 0 ? this.retryInitialMs : Math.min(this.retryMaxMs, this.retryDelayMs * 2);
      this.options.logger.warn({ err: error, pending: this.pending, retryInMs: this.retryDelayMs }, 'usage event publish failed; retrying');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.spillRefused = false;
        this.pump();
      }, this.retryDelayMs);
    }
    this.pump();
  }

  /** While the stream refuses: what is held and queued goes to Postgres instead of waiting in memory for the retry. */
  private spillHeld(): void {
    if (this.spilling || this.spillRefused) return;
    const refused = this.held.splice(0, this.maxSpillMessages);
    const queued: Batch[] = [];
    let batch: Batch | undefined;
    while (refused.length + queued.length < this.maxSpillMessages && (batch = this.takeBatch())) queued.push(batch);
    const batches = [...refused, ...queued];
    if (batches.length === 0) return;
    const events = countEvents(batches);
    this.spilling = batches;
    this.inFlightEvents += events;
    this.spillWithin(batches).then(
      () => this.spilled(batches, events),
      (error: unknown) => this.spillFailed(refused, queued, error),
    );
  }

  private async spillWithin(batches: readonly Batch[]): Promise<void> {
    const answered = await orAfter(
      this.options.spill(batches.map((batch) => this.message(batch))).then(() => true),
      this.spillTimeoutMs,
      false,
    );
    if (!answered) throw new Error(`Postgres did not answer the spill within ${this.spillTimeoutMs} ms`);
  }

  private spilled(batches: Batch[], events: number): void {
    this.spilling = undefined;
    this.inFlightEvents -= events;
    // Once stopped, the shutdown's own spill has taken (and counted) these as well.
    if (this.stopped) return;
    this.countSpilled(batches.length, events);
    if (this.spilledSinceHealthy === 0) {
      this.options.logger.warn({ events }, 'usage stream refusing writes; spilling usage events to Postgres until it takes them again');
    }
    this.spilledSinceHealthy += events;
    this.pump();
    this.notifyIfIdle();
  }

  private spillFailed(refused: Batch[], queued: Batch[], error: unknown): void {
    this.spilling = undefined;
    this.inFlightEvents -= countEvents(refused) + countEvents(queued);
    this.metrics.spillFailures.inc();
    if (this.stopped) return;
    // Older than anything held or queued since, so they go first: the refused messages whole,
    // keeping their message ids, the rest back in the queue as events never sent anywhere.
    this.held.unshift(...refused);
    this.queue.unshift(...queued.flatMap((batch) => batch.events));
    if (!this.spillRefused) {
      this.options.logger.warn({ err: error, pending: this.pending, capacity: this.capacity }, 'cannot spill usage events to Postgres; holding them in memory');
    }
    this.spillRefused = true;
    this.pump();
  }

  /** At shutdown, everything still in memory, in Postgres's hands if it answers; a message also on its way to the broker may arrive twice, which its id and metering's event ids make harmless. */
  private async spillRemaining(timeoutMs: number): Promise<number> {
    const batches = [...this.publishing, ...(this.spilling ?? []), ...this.held];
    let batch: Batch | undefined;
    while ((batch = this.takeBatch())) batches.push(batch);
    let spilled = 0;
    try {
      for (let at = 0; at < batches.length; at += this.maxSpillMessages) {
        const chunk = batches.slice(at, at + this.maxSpillMessages);
        await this.spillWithin(chunk);
        spilled += countEvents(chunk);
        this.countSpilled(chunk.length, countEvents(chunk));
      }
    } catch (error) {
      const lost = countEvents(batches) - spilled;
      this.options.logger.error({ err: error, lost, spilled, timeoutMs }, 'usage events not published before shutdown; they are lost');
      return lost;
    }
    if (spilled > 0) this.options.logger.warn({ spilled, timeoutMs }, 'usage events not published before shutdown; spilled to Postgres for another replica to publish');
    return 0;
  }

  private countSpilled(messages: number, events: number): void {
    this.metrics.spilledMessages.inc(messages);
    this.metrics.spilledEvents.inc(events);
  }

  /** The oldest event not on its way anywhere: a held batch loses its first event, which gives it a new message id. */
  private takeOldestQueued(): UsageRecorded | undefined {
    const oldest = this.held[0];
    if (!oldest) return this.queue.shift();
    oldest.encoded.shift();
    oldest.body = undefined;
    const event = oldest.events.shift();
    if (oldest.events.length === 0) this.held.shift();
    return event;
  }

  private drop(event: UsageRecorded | undefined): void {
    this.metrics.dropped.inc();
    if (this.droppedSinceHealthy === 0) {
      this.options.logger.error(
        { capacity: this.capacity, eventId: event?.eventId },
        'usage event queue full; dropping the oldest events until the stream or Postgres takes them again',
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

function countEvents(batches: readonly Batch[]): number {
  return batches.reduce((sum, batch) => sum + batch.events.length, 0);
}

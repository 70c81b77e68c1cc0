import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import type { Alert, Namespace } from '@keyplane/contracts';
import { pingDatabase } from '@keyplane/database';
import { ensureStream, usageEventStream } from '@keyplane/nats';
import type { Logger } from '@keyplane/observability';
import type { Database } from '../db/schema.js';
import type { AlertThresholds } from '../alerts/thresholds.js';
import { HourHistory } from '../alerts/hour-history.js';
import type { MeteringMetrics } from '../metrics/metering-metrics.js';
import { readUsageMessage, type ReadEntry } from './read-usage-message.js';
import { backoffMs } from '../backoff.js';
import type { BatchOutcome, StoreOptions } from './store-batch.js';
import { storeSettingAsideUnstorable, storeWithFallback } from './store-with-fallback.js';
import { isDatabaseFailure } from './database-errors.js';

export const DURABLE_NAME = 'metering';

/** Batches' worth of events read ahead of the batcher; past it the receiver waits, and so do its pulls. */
const READ_AHEAD_BATCHES = 4;

/**
 * Deliveries of a message that fails on its own while Postgres answers before what in it cannot
 * be stored is set aside: one failure could be a connection lost as it ran, several in a row
 * (backing off, 15 s at the default retry delay) are the events themselves.
 */
const SET_ASIDE_AFTER_DELIVERIES = 5;

/**
 * ...and only while other events are being stored, within the longest retry delay: when nothing
 * is (a release that throws on every batch), the fault is metering's, not the events', and
 * setting them all aside would empty the windows. They wait for a fix instead.
 */
const OTHERS_STORED_WITHIN_MS = 60_000;

export interface IngestSettings {
  /** Events in one stored batch at most (a message is never split, so one large message can exceed it). */
  batchSize: number;
  /** How long a batch that is not full waits for more events before it is stored. */
  lingerMs: number;
  ackWaitMs: number;
  maxAckPending: number;
  retryDelayMs: number;
  /** How long the usage stream keeps an event (0: forever); metering owns this limit. */
  streamMaxAgeHours: number;
}

export interface UsageConsumerOptions {
  nc: NatsConnection;
  ns: Namespace;
  db: Kysely<Database>;
  logger: Logger;
  metrics: MeteringMetrics;
  settings: IngestSettings;
  thresholds: AlertThresholds;
  /** New alerts get a webhook delivery row. */
  webhook: boolean;
  onAlerts(alerts: Alert[]): void;
}

/** A message as it arrived, read into its events. */
interface Received {
  message: JsMsg;
  entries: ReadEntry[];
}

/**
 * The durable pull consumer of the usage stream. Messages are read into their events as they
 * arrive; the batch loop takes whatever is buffered (up to `batchSize` events) as one batch,
 * stores it in one transaction, and acks only after the commit, while the next messages keep
 * arriving. Under load batches fill up; when traffic is light a batch is the single message
 * that came. A transient failure naks the batch's messages for redelivery after a backoff.
 */
export class UsageConsumer {
  private consumer: Consumer | undefined;
  private messages: ConsumerMessages | undefined;
  private running = false;
  private receiving: Promise<void> | undefined;
  private batching: Promise<void> | undefined;
  /** Received, not yet taken into a batch: about `READ_AHEAD_BATCHES` batches' worth of events. */
  private buffered: Received[] = [];
  private bufferedEvents = 0;
  private wakeBatcher: (() => void) | undefined;
  private wakeReceiver: (() => void) | undefined;
  /** When this replica last committed events of the stream. */
  private lastStoredAt = Number.NEGATIVE_INFINITY;
  private readonly hourHistory = new HourHistory();

  constructor(private readonly options: UsageConsumerOptions) {}

  async start(): Promise<void> {
    this.consumer = await this.attach();
    this.running = true;
    this.receiving = this.receive();
    this.batching = this.batchLoop();
  }

  /** Stops taking messages; the batch in flight commits and acks first, anything buffered is handed back. */
  async stop(): Promise<void> {
    this.running = false;
    this.resumeReceiving();
    await this.messages?.close();
    this.wake();
    await this.receiving;
    await this.batching;
  }

  /** For readiness: started, and a consume() is open on the stream. */
  get consuming(): boolean {
    return this.running && this.messages !== undefined;
  }

  async lag(): Promise<{ pending: number; ackPending: number } | undefined> {
    if (!this.consumer) return undefined;
    const info = await this.consumer.info();
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  /** The durable consumer, made (with the stream) when missing: at start, and again whenever either was deleted. */
  private async attach(): Promise<Consumer> {
    const { nc, ns, settings } = this.options;
    await ensureStream(nc, usageEventStream(ns, settings.streamMaxAgeHours), { ownsLimits: true });
    await this.ensureDurable();
    return jetstream(nc).consumers.get(ns.streams.usageEvents, DURABLE_NAME);
  }

  private async ensureDurable(): Promise<void> {
    const { nc, ns, settings } = this.options;
    const jsm = await jetstreamManager(nc);
    // Never drop an event after N tries: unreadable ones are set aside by us, transient failures must
    // retry until they pass. Set on a durable found already too: JetStream would drop for good a
    // message a Postgres outage failed max_deliver times.
    const tunables = { ack_wait: settings.ackWaitMs * 1_000_000, max_ack_pending: settings.maxAckPending, max_deliver: -1 };
    const exists = await jsm.consumers.info(ns.streams.usageEvents, DURABLE_NAME).then(
      () => true,
      () => false,
    );
    if (exists) {
      await jsm.consumers.update(ns.streams.usageEvents, DURABLE_NAME, tunables);
      return;
    }
    // Another replica adding the same durable at the same moment is harmless: the server keeps one.
    await jsm.consumers.add(ns.streams.usageEvents, {
      durable_name: DURABLE_NAME,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ...tunables,
    });
  }

  /**
   * Buffers what the stream delivers; never waits on Postgres, so a batch commits while the
   * next one arrives. The end of a burst is an empty buffer, not the iterator's getPending(),
   * which also counts the pull requests it has queued: the tail of a burst once sat there
   * unprocessed until the ack wait ran out.
   */
  private async receive(): Promise<void> {
    const { logger, settings } = this.options;
    while (this.running) {
      try {
        this.consumer ??= await this.attach();
        // Two batches' worth in flight from the server: one being stored, the next already here.
        // Counted in messages, which may carry up to 100 events each; the iterator asks for more
        // only as it is read, so the wait below bounds it too (a consume() bounded in bytes got
        // no message at all from nats-server 2.9).
        // A stream or durable deleted under us ends the iteration (by default it would wait for
        // them to come back, and nothing brings a durable back): it is made again below.
        const messages = await this.consumer.consume({ max_messages: settings.batchSize * 2, abort_on_missing_resource: true });
        this.messages = messages;
        if (!this.running) await messages.close();
        for await (const message of messages) {
          if (!this.running) {
            message.nak();
            continue;
          }
          const entries = readUsageMessage(message.seq, message.data);
          this.buffered.push({ message, entries });
          this.bufferedEvents += entries.length;
          this.wake();
          if (this.bufferedEvents >= settings.batchSize * READ_AHEAD_BATCHES) {
            await new Promise<void>((resolve) => {
              this.wakeReceiver = resolve;
            });
          }
        }
        this.messages = undefined;
        if (this.running) throw new Error('the usage stream stopped delivering');
      } catch (error) {
        this.messages = undefined;
        this.consumer = undefined;
        logger.error({ err: error }, 'usage consumer stopped; restarting');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /**
   * Whatever has arrived within `lingerMs` is one batch. A batch has a fixed cost (the lock and
   * a dozen statements) whatever its size, so at a steady trickle, waiting a few ms for more
   * events divides that cost among them instead of paying it per event.
   */
  private async batchLoop(): Promise<void> {
    const { logger, settings } = this.options;
    while (this.running) {
      if (this.buffered.length === 0) {
        await new Promise<void>((resolve) => {
          this.wakeBatcher = resolve;
        });
        continue;
      }
      if (settings.lingerMs > 0 && this.bufferedEvents < settings.batchSize) await this.linger(settings.lingerMs);
      const batch = this.takeBatch(settings.batchSize);
      // Unacked, a batch that failed outside the store is redelivered after the ack wait.
      await this.process(batch).catch((error: unknown) => logger.error({ err: error, messages: batch.length }, 'processing a usage batch failed'));
    }
    this.bufferedEvents = 0;
    handBack(this.buffered.splice(0).map(({ message }) => message));
  }

  /** The oldest buffered messages, as many as fit in `batchSize` events, and at least one. */
  private takeBatch(batchSize: number): Received[] {
    let count = 0;
    let events = 0;
    while (count < this.buffered.length && (count === 0 || events + this.buffered[count].entries.length <= batchSize)) {
      events += this.buffered[count].entries.length;
      count++;
    }
    this.bufferedEvents -= events;
    const batch = this.buffered.splice(0, count);
    this.resumeReceiving();
    return batch;
  }

  private resumeReceiving(): void {
    const resume = this.wakeReceiver;
    this.wakeReceiver = undefined;
    resume?.();
  }

  /** Resolves after `ms`, or sooner once a full batch is buffered or the consumer stops. */
  private linger(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeBatcher === check) this.wakeBatcher = undefined;
        resolve();
      };
      const check = () => {
        if (!this.running || this.bufferedEvents >= this.options.settings.batchSize) done();
        else this.wakeBatcher = check;
      };
      const timer = setTimeout(done, ms);
      this.wakeBatcher = check;
    });
  }

  private wake(): void {
    const wake = this.wakeBatcher;
    this.wakeBatcher = undefined;
    wake?.();
  }

  private async process(batch: Received[]): Promise<void> {
    const { db, metrics } = this.options;
    const endTimer = metrics.batchDuration.startTimer();
    let outcome: BatchOutcome;
    try {
      outcome = await storeWithFallback(db, batch.flatMap((received) => received.entries), this.storeOptions);
    } catch (error) {
      if (await this.databaseToBlame(error)) this.retryLater(batch, error);
      else await this.processEachAlone(batch, error);
      return;
    }
    this.finish(batch, outcome);
    endTimer();
  }

  /**
   * The batch failed while Postgres answers, on something one of its messages holds: each message
   * is stored on its own, so the others are counted and only that one goes back. Once it has come
   * back `SET_ASIDE_AFTER_DELIVERIES` times, while other events are stored, what in it fails on
   * its own is set aside.
   */
  private async processEachAlone(batch: Received[], batchError: unknown): Promise<void> {
    const { db, logger } = this.options;
    logger.warn({ err: batchError, messages: batch.length }, 'a usage batch failed while Postgres answers; storing its messages one by one');
    for (const [index, received] of batch.entries()) {
      const poison = received.message.info.deliveryCount >= SET_ASIDE_AFTER_DELIVERIES && Date.now() - this.lastStoredAt <= OTHERS_STORED_WITHIN_MS;
      const store = poison ? storeSettingAsideUnstorable : storeWithFallback;
      let outcome: BatchOutcome;
      try {
        outcome = await store(db, received.entries, this.storeOptions);
      } catch (error) {
        if (await this.databaseToBlame(error)) return this.retryLater(batch.slice(index), error);
        this.retryLater([received], error);
        continue;
      }
      this.finish([received], outcome);
    }
  }

  /** Postgres, or the way to it, failed: nothing the events hold, so they go back as they are. */
  private async databaseToBlame(error: unknown): Promise<boolean> {
    return isDatabaseFailure(error) || !(await pingDatabase(this.options.db));
  }

  private get storeOptions(): StoreOptions {
    return { thresholds: this.options.thresholds, webhook: this.options.webhook, hourHistory: this.hourHistory };
  }

  private retryLater(batch: Received[], error: unknown): void {
    const { logger, metrics, settings } = this.options;
    logger.error({ err: error, messages: batch.length }, 'storing a usage batch failed; it will be redelivered');
    metrics.batchRetries.inc();
    for (const { message } of batch) message.nak(backoffMs(message.info.deliveryCount, settings.retryDelayMs, 60_000));
  }

  /** After the commit: the dead letters out, the messages acked, the counts and alerts told. */
  private finish(batch: Received[], outcome: BatchOutcome): void {
    const { logger, metrics } = this.options;
    if (outcome.stored + outcome.duplicates > 0) this.lastStoredAt = Date.now();
    this.publishDeadLetters(outcome.deadLetters);
    for (const { message } of batch) message.ack();
    metrics.batchSize.observe(batch.reduce((events, received) => events + received.entries.length, 0));
    metrics.eventsIngested.inc({ result: 'stored' }, outcome.stored);
    metrics.eventsIngested.inc({ result: 'duplicate' }, outcome.duplicates);
    if (outcome.pastRetention > 0) {
      metrics.eventsIngested.inc({ result: 'past_retention' }, outcome.pastRetention);
      logger.warn({ events: outcome.pastRetention }, 'usage events older than what the retention sweep deleted were not counted');
    }
    for (const alert of outcome.alerts) {
      metrics.alertsRaised.inc({ type: alert.type });
      logger.info({ alertId: alert.id, type: alert.type, keyId: alert.keyId, detectedAt: alert.detectedAt }, alert.summary);
    }
    if (outcome.alerts.length > 0) this.options.onAlerts(outcome.alerts);
  }

  /** Logs each unreadable message and republishes it, untouched, on the dead-letter subject for whoever investigates. */
  private publishDeadLetters(deadLetters: BatchOutcome['deadLetters']): void {
    const { nc, ns, logger, metrics } = this.options;
    for (const { seq, position, data, read } of deadLetters) {
      metrics.deadLetters.inc({ kind: read.kind });
      logger.warn({ streamSeq: seq, batchPosition: position, type: read.type, version: read.version, kind: read.kind, reason: read.reason }, 'usage event set aside as a dead letter');
      const h = headers();
      h.set('Keyplane-Dead-Letter-Reason', headerSafe(read.reason));
      h.set('Keyplane-Stream-Seq', String(seq));
      h.set('Keyplane-Batch-Position', String(position));
      nc.publish(ns.subjects.usageDeadLetter, data, { headers: h });
    }
  }
}

/** Messages taken but not processed go back at once rather than after the ack wait. */
function handBack(messages: readonly JsMsg[]): void {
  for (const message of messages) message.nak();
}

const headerSafe = (text: string): string => text.replace(/[\r\n]+/g, ' ').slice(0, 512);

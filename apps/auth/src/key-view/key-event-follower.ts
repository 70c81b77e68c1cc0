import { jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { lastSequence } from '@keyplane/nats';
import type { Logger } from '@keyplane/observability';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AppliedSequence } from './applied-sequence.js';
import type { KeyView } from './key-view.js';
import { readKeyEvent } from './read-key-event.js';

export interface KeyEventFollowerOptions {
  nc: NatsConnection;
  stream: string;
  /** The stream's key event subjects (`events.keys.>`). */
  subject: string;
  view: KeyView;
  applied: AppliedSequence;
  logger: Logger;
  registry: Registry;
}

/**
 * Feeds the key view from the key event stream: replays it from the first message with an
 * ordered consumer (which recreates itself at the right sequence after a gap or a
 * reconnect), then applies live events as they arrive. Every message moves the applied
 * sequence on, including the ones skipped, so a bad event never holds back the ones after it.
 */
export class KeyEventFollower {
  private messages: ConsumerMessages | undefined;
  private caughtUp = false;
  private failed = false;
  private readonly skipped: Counter<'reason'>;

  constructor(private readonly options: KeyEventFollowerOptions) {
    const { registry, applied, view } = options;
    this.skipped = new Counter({
      name: 'auth_key_events_skipped_total',
      help: 'Key events the view did not apply, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    new Gauge({
      name: 'auth_key_view_sequence',
      help: 'Last key event stream sequence applied to the key view',
      registers: [registry],
      collect() {
        this.set(applied.value);
      },
    });
    new Gauge({
      name: 'auth_key_view_keys',
      help: 'Keys in the key view',
      registers: [registry],
      collect() {
        this.set(view.size);
      },
    });
  }

  /** Resolves once the view has applied everything the stream held when it was called. */
  async start(): Promise<void> {
    const { nc, stream, subject, applied, logger } = this.options;
    const started = performance.now();
    const head = await lastSequence(nc, stream);
    // One filter subject as a string: an array needs nats-server 2.10, and we run on 2.9.
    const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: subject });
    const messages = await consumer.consume({ callback: (msg) => this.receive(msg) });
    this.messages = messages;
    void this.watch(messages);
    if (!(await applied.reached(head))) throw new Error('key event follower stopped before the key view caught up');
    this.caughtUp = true;
    logger.info(
      { sequence: applied.value, keys: this.options.view.size, ms: Math.round(performance.now() - started) },
      'key view caught up with the key event stream',
    );
  }

  /** Caught up with the stream as it was at start, and still following it. */
  get ready(): boolean {
    return this.caughtUp && !this.failed;
  }

  async stop(): Promise<void> {
    const messages = this.messages;
    this.messages = undefined;
    this.options.applied.release();
    if (messages) await messages.close();
  }

  private receive(msg: JsMsg): void {
    try {
      this.apply(msg);
    } catch (error) {
      this.skipped.inc({ reason: 'error' });
      this.options.logger.error({ err: error, seq: msg.seq }, 'key event could not be applied; skipped');
    }
    this.options.applied.advance(msg.seq);
  }

  private apply(msg: JsMsg): void {
    const { view, logger } = this.options;
    const read = readKeyEvent(msg.data);
    switch (read.kind) {
      case 'event': {
        const { event } = read;
        if (view.apply(event)) {
          logger.debug({ seq: msg.seq, type: event.type, keyId: event.keyId }, 'key event applied');
        } else {
          this.skipped.inc({ reason: 'does_not_fit' });
          logger.warn(
            { seq: msg.seq, type: event.type, keyId: event.keyId, eventId: event.eventId },
            'key event does not fit the key view (key never issued, or issued twice); skipped',
          );
        }
        return;
      }
      case 'unknown':
        this.skipped.inc({ reason: 'unknown_version' });
        logger.warn({ seq: msg.seq, subject: msg.subject, type: read.type, version: read.version }, 'key event of an unknown type or version; skipped');
        return;
      case 'malformed':
        this.skipped.inc({ reason: 'malformed' });
        logger.warn({ seq: msg.seq, subject: msg.subject, problem: read.problem }, 'malformed key event; skipped');
        return;
    }
  }

  private async watch(messages: ConsumerMessages): Promise<void> {
    const { logger } = this.options;
    void messages.closed().then((error) => {
      if (!error) return;
      this.failed = true;
      logger.error({ err: error }, 'key event consumer closed; the key view no longer follows the stream');
    });
    for await (const status of messages.status()) {
      switch (status.type) {
        case 'heartbeats_missed':
        case 'consumer_not_found':
        case 'stream_not_found':
        case 'consumer_deleted':
          logger.warn({ status }, 'key event consumer trouble; it resumes from the last applied event');
          break;
        case 'ordered_consumer_recreated':
          logger.info({ status }, 'key event consumer recreated');
          break;
        default:
          break;
      }
    }
  }
}

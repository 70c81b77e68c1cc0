import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { POSITION_HEADER, STORED_THROUGH_HEADER } from '@keyplane/event-store';
import type { Logger } from '@keyplane/observability';
import { WakeableSleep } from '@keyplane/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AppliedSequence } from './applied-sequence.js';
import type { KeyView } from './key-view.js';
import { readKeyEvent } from './read-key-event.js';
import { RebuildGate } from './rebuild-gate.js';
import { ReplayGuard } from './replay-guard.js';

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

/** The longest wait between two attempts to follow the stream again: the keys service makes a lost stream again within about a second. */
const REFOLLOW_MAX_DELAY_MS = 1000;
/** While the stream stays missing, one warning per this many attempts (about half a minute). */
const REFOLLOW_WARN_EVERY = 30;
/**
 * A consumer the server dropped without a word (NATS restarted on empty storage, and now and
 * then a stream deleted under a pull request) is found missing after two heartbeats missed.
 */
const HEARTBEAT_MS = 1000;
/**
 * Messages one pull asks for. nats.js's default, 100 and pulled again 25 at a time, made a
 * replay wait on nats-server's answers to thousands of small pulls; key events are small (under
 * 1 KB), so this holds at most about 1 MB on the way. It changes nothing for live events.
 */
const PULL_BATCH = 1000;

/**
 * Feeds the key view from the key event stream: replays it from the first message with an
 * ordered consumer (which recreates itself at the right sequence after a gap or a
 * reconnect), then applies live events as they arrive. Every message moves the applied
 * sequence on, including the ones skipped, so a bad event never holds back the ones after it.
 *
 * When the consumer ends (the stream was deleted or made anew, or its consumer vanished), the
 * replica is not ready until it follows the stream again: from the next message on the same
 * stream, from the first on a new one, skipping by position what the view already holds.
 */
export class KeyEventFollower {
  private messages: ConsumerMessages | undefined;
  /** The creation time of the stream followed: a stream made anew under the same name numbers its messages from 1 again. */
  private streamCreated: string | undefined;
  private following = false;
  private stopped = false;
  /** Counts consumers made, so that a late message or end of an earlier one changes nothing. */
  private generation = 0;
  private refollowing: Promise<void> = Promise.resolve();
  private readonly sleeper = new WakeableSleep();
  private replays = new ReplayGuard();
  /** Where events are folded: the view, or a new one being folded from the first message once the stream turned out to be another history. */
  private target: KeyView;
  /** The stream holds another history than the view: rebuild it at the next follow. */
  private diverged = false;
  /** When the view being folded again may take over. */
  private gate = new RebuildGate();
  private readonly skipped: Counter<'reason'>;
  private readonly refollowed: Counter<'stream'>;
  private readonly rebuilt: Counter;

  constructor(private readonly options: KeyEventFollowerOptions) {
    const { registry, applied, view } = options;
    this.target = view;
    applied.onOtherStream = (created) => this.otherStreamSeen(created);
    this.skipped = new Counter({
      name: 'auth_key_events_skipped_total',
      help: 'Key events the view did not apply, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.refollowed = new Counter({
      name: 'auth_key_view_refollowed_total',
      help: 'Times the key view followed the key event stream again after its consumer ended: on the same stream, or on one made anew',
      labelNames: ['stream'],
      registers: [registry],
    });
    this.rebuilt = new Counter({
      name: 'auth_key_view_rebuilds_total',
      help: 'Times the key view was folded again from the first message of a stream that holds another history than the view (the keys store went back to an earlier point)',
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
    const started = performance.now();
    await this.follow();
    this.options.logger.info(
      { sequence: this.options.applied.value, keys: this.options.view.size, ms: Math.round(performance.now() - started) },
      'key view caught up with the key event stream',
    );
  }

  /** Caught up with the stream it follows, and still following it. */
  get ready(): boolean {
    return this.following;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.following = false;
    this.sleeper.wake();
    const messages = this.messages;
    this.messages = undefined;
    this.options.applied.release();
    if (messages) await messages.close();
    await this.refollowing;
  }

  /**
   * Follows the stream from where the view is, and resolves once the view has applied what the
   * stream held; fails if the consumer ends first. A stream made anew (another creation time)
   * is followed from its first message.
   */
  private async follow(): Promise<{ replaced: boolean }> {
    const { nc, stream, subject, applied } = this.options;
    const jsm = await jetstreamManager(nc);
    const { created } = await jsm.streams.info(stream);
    const replaced = this.streamCreated !== undefined && created !== this.streamCreated;
    if (this.diverged || this.target !== this.options.view) {
      // Fold the stream from its first message into a view of its own, and take it once level.
      this.diverged = false;
      this.target = this.options.view.foldAnew();
      this.replays = new ReplayGuard();
      this.gate = new RebuildGate();
      applied.restart(created);
    } else if (created !== this.streamCreated) {
      // The first stream followed, or one made anew: either numbers its messages from 1.
      applied.restart(created);
      if (replaced) this.replays.verifyReplays();
    }
    const generation = ++this.generation;
    // One filter subject as a string: an array needs nats-server 2.10, and we run on 2.9.
    const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: subject, opt_start_seq: applied.value + 1 });
    // A stream deleted or made anew must end the consume: left to itself, the ordered consumer
    // comes back on the new stream at its old sequence number, skipping what the new one holds.
    const messages = await consumer.consume({
      callback: (msg) => {
        if (generation === this.generation) this.receive(msg);
      },
      abort_on_missing_resource: true,
      idle_heartbeat: HEARTBEAT_MS,
      max_messages: PULL_BATCH,
    });
    this.messages = messages;
    // Found another history before `messages` was known to receive(): it could not end this consume.
    if (this.diverged) await messages.close();
    const info = await jsm.streams.info(stream).catch(async (error: unknown) => {
      await messages.close();
      throw error;
    });
    if (info.created !== created) {
      await messages.close();
      throw new Error('the key event stream was made anew while its consumer was made');
    }
    this.streamCreated = created;
    void this.watch(messages);
    const caughtUp = await Promise.race([applied.reached(info.state.last_seq), messages.closed().then(() => false)]);
    if (!caughtUp) throw new Error('key event follower stopped before the key view caught up');
    if (this.target !== this.options.view) {
      const whole = await Promise.race([this.gate.opened.then(() => true), messages.closed().then(() => false)]);
      if (!whole) throw new Error('key event follower stopped before the key view folded again held every stored event');
      this.options.view.replaceWith(this.target);
      this.target = this.options.view;
      this.rebuilt.inc();
      this.options.logger.warn({ sequence: applied.value, keys: this.options.view.size }, 'key view folded again from the key event stream, and in use');
    }
    void messages.closed().then((error) => this.ended(generation, error));
    this.following = true;
    return { replaced };
  }

  /**
   * A lookup found the stream under another creation time than the one followed: it was made anew.
   * End the consume now, rather than after the missed heartbeats of a consumer the server dropped
   * without a word, so that the lookup waits for the new stream rather than for nothing.
   */
  private otherStreamSeen(created: string): void {
    if (this.following && created !== this.streamCreated) void this.messages?.close();
  }

  /** The consumer ended under a following view: not ready until the view follows the stream again. */
  private ended(generation: number, error: Error | void): void {
    if (this.stopped || generation !== this.generation) return;
    this.following = false;
    this.options.logger.warn({ err: error }, 'key event consumer ended (stream deleted or made anew?); not ready until the key view follows the stream again');
    this.refollowing = this.refollowing.then(() => this.refollow());
  }

  private async refollow(): Promise<void> {
    const { logger, applied, view } = this.options;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const { replaced } = await this.follow();
        this.refollowed.inc({ stream: replaced ? 'new' : 'same' });
        logger.info({ sequence: applied.value, keys: view.size, replaced }, 'key view follows the key event stream again');
        return;
      } catch (error) {
        if (this.stopped) return;
        if (attempt % REFOLLOW_WARN_EVERY === 0) logger.warn({ err: error, attempt }, 'key event stream not followed yet; retrying');
        await this.sleeper.sleep(Math.min(REFOLLOW_MAX_DELAY_MS, 50 * 2 ** attempt));
      }
    }
  }

  private receive(msg: JsMsg): void {
    // The rest of a stream found to be another history waits for the view folded from its first message.
    if (this.diverged) return;
    const position = msg.headers?.get(POSITION_HEADER);
    const storedThrough = msg.headers?.get(STORED_THROUGH_HEADER);
    const replay = this.replays.replay(position, msg.headers?.get('Nats-Msg-Id'), storedThrough);
    if (replay === 'diverged' || replay === 'lost') {
      this.diverged = true;
      this.options.logger.error(
        { seq: msg.seq, position, eventId: msg.headers?.get('Nats-Msg-Id'), storedThrough },
        replay === 'diverged'
          ? 'the key event stream made anew holds another event at a position the key view folded (the keys store went back to an earlier point?); folding the view again from its first message'
          : 'the key event stream made anew says the keys store holds no event past a position the key view folded (the keys store went back to an earlier point?); folding the view again from its first message',
      );
      void this.messages?.close();
      return;
    }
    if (replay === 'applied') {
      this.skipped.inc({ reason: 'already_applied' });
    } else {
      try {
        this.apply(msg);
      } catch (error) {
        this.skipped.inc({ reason: 'error' });
        this.options.logger.error({ err: error, seq: msg.seq, subject: msg.subject }, 'key event could not be applied; skipped');
      }
    }
    if (this.target !== this.options.view) this.gate.see(position, storedThrough);
    this.options.applied.advance(msg.seq);
  }

  private apply(msg: JsMsg): void {
    const { logger } = this.options;
    const view = this.target;
    const read = readKeyEvent(msg.data);
    switch (read.kind) {
      case 'event': {
        const { event } = read;
        if (view.apply(event)) {
          logger.debug({ seq: msg.seq, type: event.type, keyId: event.keyId }, 'key event applied');
        } else {
          this.skipped.inc({ reason: 'does_not_fit' });
          logger.warn(
            { seq: msg.seq, subject: msg.subject, type: event.type, keyId: event.keyId, eventId: event.eventId },
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
    for await (const status of messages.status()) {
      switch (status.type) {
        case 'heartbeats_missed':
        case 'consumer_not_found':
        case 'stream_not_found':
        case 'consumer_deleted':
          logger.warn({ status }, 'key event consumer trouble');
          break;
        case 'ordered_consumer_recreated':
          logger.info({ status }, 'key event consumer recreated');
          void this.endIfReplaced(messages);
          break;
        default:
          break;
      }
    }
  }

  /**
   * The ordered consumer makes itself again after a gap at its next sequence number, on whatever
   * stream bears the name by then: on one made anew that number means nothing, so follow it afresh.
   */
  private async endIfReplaced(messages: ConsumerMessages): Promise<void> {
    const { nc, stream } = this.options;
    // A stream that cannot be read now ends the consume by itself once it is found missing.
    const info = await jetstreamManager(nc)
      .then((jsm) => jsm.streams.info(stream))
      .catch(() => undefined);
    if (info && info.created !== this.streamCreated) await messages.close();
  }
}

import { sql, type Kysely } from 'kysely';
import { WakeableLoop } from '@keyplane/runtime';
import { eventIdAt, firstPosition, hasEventsAfter, lastPosition, readAll } from './event-store.js';
import type { StoredEvent } from './events.js';
import type { PublishedEvent } from './stream-end.js';
import type { EventStoreTables } from './schema.js';
import { judgeStream, type StreamEnds, type StreamVerdict } from './stream-verdict.js';

/** What the first message of a stream the relay made anew says: the store held every event up to `storedThrough` then. */
export interface RemadeStream {
  storedThrough: number;
}

export interface OutboxPublisher {
  /**
   * Publishes stored events in their order and resolves once the broker has them all. Should it
   * fail part-way, the broker holds a leading run of them, never a later one without every
   * earlier one: the relay goes on after the last event the stream holds, so a gap would never be
   * filled. Must be idempotent per event id (JetStream: Nats-Msg-Id = event id), since a crash
   * between publish and checkpoint re-publishes the last batch. `remade` comes with the events
   * published first onto a stream the relay made anew and goes on the first of them: a consumer
   * that folded an event past `storedThrough` holds one the store lost (it went back to an
   * earlier point) and must fold the stream again.
   */
  publishInOrder(events: readonly StoredEvent[], remade?: RemadeStream): Promise<void>;
  /** The newest event already on the broker (its global position and id), or null. */
  lastPublished(): Promise<PublishedEvent | null>;
}

/**
 * The broker's stream, as a relay that can make it again sees it. A stream can lose what it
 * holds (deleted, purged, a broker restarted on empty storage) while the store keeps every event.
 */
export interface OutboxStream {
  /** The positions of the stream's first and last messages, and whether it has gaps; null when there is no stream. */
  ends(): Promise<StreamEnds | null>;
  /** Makes the stream anew and empty, so that every event published again is taken. */
  recreate(): Promise<void>;
}

/** What a relay found when its stream had lost events it had acknowledged. */
export interface StreamLoss {
  /** The position of the last event the stream had acknowledged. */
  checkpoint: number;
  /** What the stream held then, or null: there was no stream. */
  onStream: StreamEnds | null;
}

export interface OutboxRelayOptions {
  db: Kysely<EventStoreTables>;
  publisher: OutboxPublisher;
  /** Checkpoint name; one relay per name publishes at a time across all replicas. */
  name: string;
  /** How often to look for events appended by other processes. */
  pollIntervalMs?: number;
  batchSize?: number;
  /**
   * The stream, to check for lost history before each batch (and, when idle, every
   * `streamCheckIntervalMs`) and to make anew, from the first stored event, when it lost some.
   * Without it the relay trusts the broker to keep what it acknowledged.
   */
  stream?: OutboxStream;
  /** How often an idle relay looks at the stream; 1 s by default. */
  streamCheckIntervalMs?: number;
  /** Called once the stream is made anew after it lost events, before they are published again. */
  onStreamLoss?: (loss: StreamLoss) => void;
  onError?: (error: unknown) => void;
}

/**
 * Publishes every stored event, in global order, exactly once onto the broker.
 * Each batch runs in a transaction that locks the checkpoint row, so replicas take turns
 * and the checkpoint moves only past events the broker has acknowledged.
 * Given the stream, it also puts back what the stream lost: the store is the source of truth.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly streamCheckIntervalMs: number;
  private readonly loop: WakeableLoop;
  private published = 0;
  private lastStreamCheck = Number.NEGATIVE_INFINITY;
  /** The first stored event's position: events are never removed, so once known it holds. */
  private firstStored: number | null = null;
  private waiters: { position: number; afterPass: number; resolve: () => void }[] = [];
  /** Locked passes begun: a waiter that found this relay's memory ahead of the store waits for one begun after it. */
  private passes = 0;
  /** The next pass takes the lock and looks at the stream, even with nothing new after `published`. */
  private checkRequested = false;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.streamCheckIntervalMs = options.streamCheckIntervalMs ?? 1000;
    this.loop = new WakeableLoop({
      pass: () => this.publishBatch(),
      idleMs: options.pollIntervalMs ?? 200,
      onError: (error) => options.onError?.(error),
    });
  }

  async start(): Promise<void> {
    await this.reconcileCheckpoint();
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Ask for a pass now instead of at the next poll: called right after a local append. */
  wake(): void {
    this.loop.wake();
  }

  /**
   * Resolves once every event up to `position` is on the broker. A position this relay remembers
   * publishing counts only if the store's checkpoint has it too: a store restored to an earlier
   * point, or failed over to a copy that lacked the last commits, gives positions the relay
   * published to new events, which are on no stream yet. Then one checked pass (the lock, the
   * stream judged against the store) must publish it first.
   */
  async whenPublished(position: number): Promise<void> {
    let afterPass = 0;
    if (position <= this.published) {
      if (position <= (await this.storedCheckpoint())) return;
      afterPass = this.passes;
      this.checkRequested = true;
    }
    return new Promise((resolve) => {
      this.waiters.push({ position, afterPass, resolve });
      this.wake();
    });
  }

  get publishedPosition(): number {
    return this.published;
  }

  /** Runs one batch; returns how many events it published. Exposed for tests of crash recovery. */
  async publishBatch(): Promise<number> {
    const { db, publisher, name } = this.options;
    // Most passes are idle polls: one indexed read (and once a `streamCheckIntervalMs` a look at
    // the stream), not a locking transaction of four statements.
    if (!this.checkRequested && !(await hasEventsAfter(db, this.published)) && !(await this.streamLooksShort())) return 0;
    this.checkRequested = false;
    const pass = ++this.passes;
    const count = await db.transaction().execute(async (trx) => {
      const checkpoint = await trx
        .selectFrom('outbox_checkpoints')
        .select('position')
        .where('name', '=', name)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const { after, remade } = await this.resumeAfter(checkpoint.position);
      const events = await readAll(trx, after, this.batchSize);
      await publisher.publishInOrder(events, remade);
      const position = events.at(-1)?.globalPosition ?? after;
      if (position !== checkpoint.position) {
        await trx.updateTable('outbox_checkpoints').set({ position }).where('name', '=', name).execute();
      }
      // Read under the lock, the checkpoint is the truth: lower than before while the stream is remade.
      this.published = position;
      return events.length;
    });
    this.releaseWaiters(pass);
    return count;
  }

  /**
   * Where this batch starts. With the stream known, it is looked at under the checkpoint's lock,
   * where no other replica publishes, so its ends can be held against the checkpoint and the
   * store. A stream that lost history is made anew and every event published again, from the first.
   */
  private async resumeAfter(checkpoint: number): Promise<{ after: number; remade?: RemadeStream }> {
    const { db, stream, onStreamLoss } = this.options;
    if (!stream) return { after: checkpoint };
    this.lastStreamCheck = performance.now();
    const onStream = await stream.ends();
    const verdict = await this.judge(checkpoint, onStream);
    if (verdict.kind === 'intact') return { after: verdict.after };
    // Appends take their positions in commit order, so every event up to the last one stored now is
    // republished from this pass on: what the new stream's first message vouches for.
    const storedThrough = await lastPosition(db);
    await stream.recreate();
    if (verdict.lost) onStreamLoss?.({ checkpoint, onStream });
    return { after: 0, remade: { storedThrough } };
  }

  /**
   * An idle relay's look at the stream, without the lock: the stream never falls behind what
   * this relay saw published, nor loses its beginning, unless it lost history, which a locked
   * pass then confirms.
   */
  private async streamLooksShort(): Promise<boolean> {
    const { stream } = this.options;
    if (!stream || performance.now() - this.lastStreamCheck < this.streamCheckIntervalMs) return false;
    this.lastStreamCheck = performance.now();
    return (await this.judge(this.published, await stream.ends())).kind === 'remake';
  }

  private async judge(checkpoint: number, onStream: StreamEnds | null): Promise<StreamVerdict> {
    const storedAtLast = onStream && onStream.last > 0 ? await eventIdAt(this.options.db, onStream.last) : null;
    return judgeStream(checkpoint, await this.firstStoredPosition(), onStream, storedAtLast);
  }

  private async firstStoredPosition(): Promise<number | null> {
    this.firstStored ??= await firstPosition(this.options.db);
    return this.firstStored;
  }

  /**
   * After a crash between publish and checkpoint commit, the broker may be ahead of the
   * checkpoint; start from whichever is further so nothing is published twice even after
   * the broker's duplicate window has passed. Only an event the store holds there counts: a
   * broker kept while the store went back to an earlier point (a restore, a failover that lost
   * the last commits) holds events at positions the store gives to new ones, and passing them
   * would leave those unpublished while their commands were answered.
   */
  private async reconcileCheckpoint(): Promise<void> {
    const { db, publisher, name } = this.options;
    const last = await publisher.lastPublished();
    const onBroker = last && (await eventIdAt(db, last.position)) === last.eventId ? last.position : 0;
    await db
      .insertInto('outbox_checkpoints')
      .values({ name, position: onBroker })
      .onConflict((oc) => oc.column('name').doUpdateSet({ position: sql`greatest(outbox_checkpoints.position, excluded.position)` }))
      .execute();
    const row = await db.selectFrom('outbox_checkpoints').select('position').where('name', '=', name).executeTakeFirstOrThrow();
    this.published = row.position;
  }

  /** The checkpoint as the store holds it: the last position acknowledged in the store's own history, whatever this relay remembers. */
  private async storedCheckpoint(): Promise<number> {
    const { db, name } = this.options;
    const row = await db.selectFrom('outbox_checkpoints').select('position').where('name', '=', name).executeTakeFirst();
    return row?.position ?? 0;
  }

  private releaseWaiters(pass: number): void {
    const isReady = (waiter: { position: number; afterPass: number }) => waiter.position <= this.published && pass > waiter.afterPass;
    const ready = this.waiters.filter(isReady);
    this.waiters = this.waiters.filter((waiter) => !isReady(waiter));
    ready.forEach((waiter) => waiter.resolve());
  }
}

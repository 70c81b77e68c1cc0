import { sql, type Kysely } from 'kysely';
import { WakeableLoop } from '@keyplane/runtime';
import { hasEventsAfter, readAll } from './event-store.js';
import type { StoredEvent } from './events.js';
import type { EventStoreTables } from './schema.js';

export interface OutboxPublisher {
  /**
   * Publishes one stored event and resolves once the broker has it. Must be idempotent
   * per event id (JetStream: Nats-Msg-Id = event id), since a crash between publish and
   * checkpoint re-publishes the last batch.
   */
  publish(event: StoredEvent): Promise<void>;
  /** The global position of the newest event already on the broker, or 0. */
  lastPublishedPosition(): Promise<number>;
}

export interface OutboxRelayOptions {
  db: Kysely<EventStoreTables>;
  publisher: OutboxPublisher;
  /** Checkpoint name; one relay per name publishes at a time across all replicas. */
  name: string;
  /** How often to look for events appended by other processes. */
  pollIntervalMs?: number;
  batchSize?: number;
  onError?: (error: unknown) => void;
}

/**
 * Publishes every stored event, in global order, exactly once onto the broker.
 * Each batch runs in a transaction that locks the checkpoint row, so replicas take turns
 * and the checkpoint moves only past events the broker has acknowledged.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly loop: WakeableLoop;
  private published = 0;
  private waiters: { position: number; resolve: () => void }[] = [];

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
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

  /** Resolves once every event up to `position` is on the broker. */
  whenPublished(position: number): Promise<void> {
    if (position <= this.published) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ position, resolve });
      this.wake();
    });
  }

  get publishedPosition(): number {
    return this.published;
  }

  /** Runs one batch; returns how many events it published. Exposed for tests of crash recovery. */
  async publishBatch(): Promise<number> {
    const { db, publisher, name } = this.options;
    // Most passes are idle polls: one indexed read, not a locking transaction of four statements.
    if (!(await hasEventsAfter(db, this.published))) return 0;
    const count = await db.transaction().execute(async (trx) => {
      const checkpoint = await trx
        .selectFrom('outbox_checkpoints')
        .select('position')
        .where('name', '=', name)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const events = await readAll(trx, checkpoint.position, this.batchSize);
      for (const event of events) {
        await publisher.publish(event);
      }
      const last = events.at(-1);
      if (last) {
        await trx.updateTable('outbox_checkpoints').set({ position: last.globalPosition }).where('name', '=', name).execute();
      }
      this.published = Math.max(this.published, last?.globalPosition ?? checkpoint.position);
      return events.length;
    });
    this.releaseWaiters();
    return count;
  }

  /**
   * After a crash between publish and checkpoint commit, the broker may be ahead of the
   * checkpoint; start from whichever is further so nothing is published twice even after
   * the broker's duplicate window has passed.
   */
  private async reconcileCheckpoint(): Promise<void> {
    const { db, publisher, name } = this.options;
    const onBroker = await publisher.lastPublishedPosition();
    await db
      .insertInto('outbox_checkpoints')
      .values({ name, position: onBroker })
      .onConflict((oc) => oc.column('name').doUpdateSet({ position: sql`greatest(outbox_checkpoints.position, excluded.position)` }))
      .execute();
    const row = await db.selectFrom('outbox_checkpoints').select('position').where('name', '=', name).executeTakeFirstOrThrow();
    this.published = row.position;
  }

  private releaseWaiters(): void {
    const ready = this.waiters.filter((waiter) => waiter.position <= this.published);
    this.waiters = this.waiters.filter((waiter) => waiter.position > this.published);
    ready.forEach((waiter) => waiter.resolve());
  }
}

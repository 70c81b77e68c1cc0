import type { Kysely } from 'kysely';
import { usageBatchMessageId } from '@keyplane/contracts';
import type { AuthDatabase } from '../db/schema.js';
import type { UsageMessage } from './usage-publisher.js';

/** A spilled message as the drain publishes it again: the same bytes under the same message id. */
export interface SpilledMessage {
  messageId: string;
  body: Uint8Array;
  events: number;
}

/** What one drain pass did: messages (and their events) the stream took and that left the table, and those it refused. */
export interface DrainedMessages {
  messages: number;
  events: number;
  refused: number;
}

/**
 * `auth.usage_spill`: usage messages the stream refused, shared by every replica, so one that
 * dies during a JetStream outage leaves its spilled messages to the others.
 */
export class UsageSpillStore {
  constructor(private readonly db: Kysely<AuthDatabase>) {}

  /** Stores the messages in one statement; a message already there (by message id) is kept as it is. */
  async spill(messages: readonly UsageMessage[]): Promise<void> {
    await this.db
      .insertInto('auth.usage_spill')
      .values(messages.map(({ events, body }) => ({ message_id: usageBatchMessageId(events), body: asBuffer(body), events: events.length })))
      .onConflict((conflict) => conflict.column('message_id').doNothing())
      .execute();
  }

  /**
   * Publishes up to `limit` of the oldest spilled messages no other replica is publishing (their
   * rows stay locked until this commits, and the others skip them), then deletes the ones the
   * stream took. The oldest goes alone first, so a stream that still refuses costs one publish
   * per pass, not `limit`; if it fails, this throws and the rows stay. A message the stream
   * took whose delete is lost (a crash before the commit) is published again later: the stream
   * drops it within its duplicate window, and metering counts by event id in any case.
   */
  drain(limit: number, publish: (message: SpilledMessage) => Promise<void>): Promise<DrainedMessages> {
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('auth.usage_spill')
        .select(['id', 'message_id', 'body', 'events'])
        .orderBy('id')
        .limit(limit)
        .forUpdate()
        .skipLocked()
        .execute();
      const [oldest, ...rest] = rows.map((row) => ({ id: row.id, message: { messageId: row.message_id, body: row.body, events: row.events } }));
      if (!oldest) return { messages: 0, events: 0, refused: 0 };
      await publish(oldest.message);
      const results = await Promise.allSettled(rest.map((row) => publish(row.message)));
      const taken = [oldest, ...rest.filter((_, index) => results[index]!.status === 'fulfilled')];
      await trx
        .deleteFrom('auth.usage_spill')
        .where('id', 'in', taken.map((row) => row.id))
        .execute();
      return { messages: taken.length, events: taken.reduce((sum, row) => sum + row.message.events, 0), refused: rows.length - taken.length };
    });
  }

  /** Usage events waiting in the table, every replica's. */
  async waitingEvents(): Promise<number> {
    const row = await this.db
      .selectFrom('auth.usage_spill')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('events'), eb.lit(0)).as('events'))
      .executeTakeFirstOrThrow();
    return Number(row.events);
  }
}

/** node-postgres sends a Buffer as bytea; this one shares the body's memory. */
function asBuffer(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

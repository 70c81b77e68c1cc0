import { sql, type Kysely } from 'kysely';
import type { Alert, UsageRecorded } from '@keyplane/contracts';
import type { Database, NewUsageEventRow } from '../db/schema.js';
import { detectAlerts } from '../alerts/detect-alerts.js';
import { raiseAlerts } from '../alerts/alert-store.js';
import type { AlertThresholds } from '../alerts/thresholds.js';
import { foldWindows } from '../windows/fold-windows.js';
import { rawText, type ReadResult, type Unreadable } from './read-usage-message.js';

export interface ReadMessage {
  /** Stream sequence: the dead-letter table's key, so a redelivered bad message is set aside once. */
  seq: number;
  data: Uint8Array;
  read: ReadResult;
}

export interface BatchOutcome {
  stored: number;
  duplicates: number;
  deadLetters: (ReadMessage & { read: Unreadable })[];
  alerts: Alert[];
}

export interface StoreOptions {
  thresholds: AlertThresholds;
  webhook: boolean;
}

/**
 * Stores one batch in one transaction: the events (idempotent by event id), the windows,
 * last-used times and detector state of only the newly stored ones, the alerts they raise,
 * and the unreadable messages. Acking after commit makes the whole pipeline exactly-once in
 * effect: a redelivered or replayed event finds its id taken and changes nothing.
 */
export async function storeBatch(db: Kysely<Database>, messages: readonly ReadMessage[], options: StoreOptions): Promise<BatchOutcome> {
  const deadLetters = messages.filter((message): message is ReadMessage & { read: Unreadable } => !message.read.ok);
  const events = uniqueById(messages.flatMap((message) => (message.read.ok ? [{ event: message.read.event, seq: message.seq }] : [])));
  return db.transaction().execute(async (trx) => {
    // Detectors read what earlier batches stored; replicas take turns so none reads around another's uncommitted batch.
    await sql`SELECT pg_advisory_xact_lock(hashtext('metering.ingest'))`.execute(trx);
    await storeDeadLetters(trx, deadLetters);
    const fresh = await storeEvents(trx, events);
    await foldIntoWindows(trx, fresh);
    await touchLastUsed(trx, fresh);
    const candidates = await detectAlerts(trx, fresh, options.thresholds);
    const alerts = await raiseAlerts(trx, candidates, { webhook: options.webhook });
    return { stored: fresh.length, duplicates: messages.length - deadLetters.length - fresh.length, deadLetters, alerts };
  });
}

function uniqueById(events: { event: UsageRecorded; seq: number }[]) {
  const byId = new Map<string, { event: UsageRecorded; seq: number }>();
  for (const entry of events) if (!byId.has(entry.event.eventId)) byId.set(entry.event.eventId, entry);
  return [...byId.values()];
}

async function storeDeadLetters(trx: Kysely<Database>, deadLetters: readonly (ReadMessage & { read: Unreadable })[]) {
  if (deadLetters.length === 0) return;
  await trx
    .insertInto('dead_letters')
    .values(
      deadLetters.map(({ seq, data, read }) => ({
        stream_seq: seq,
        raw_payload: rawText(data),
        reason: read.reason,
        event_type: read.type,
        event_version: read.version,
      })),
    )
    .onConflict((oc) => oc.column('stream_seq').doNothing())
    .execute();
}

/** Inserts the events and returns those not stored before, sorted by event time. */
async function storeEvents(trx: Kysely<Database>, events: readonly { event: UsageRecorded; seq: number }[]): Promise<UsageRecorded[]> {
  if (events.length === 0) return [];
  const inserted = await trx
    .insertInto('usage_events')
    .values(events.map(({ event, seq }) => toRow(event, seq)))
    .onConflict((oc) => oc.column('event_id').doNothing())
    .returning('event_id')
    .execute();
  const fresh = new Set(inserted.map((row) => row.event_id));
  return events
    .filter(({ event }) => fresh.has(event.eventId))
    .map(({ event }) => event)
    .sort((a, b) => (a.occurredAt === b.occurredAt ? (a.eventId < b.eventId ? -1 : 1) : a.occurredAt < b.occurredAt ? -1 : 1));
}

function toRow(event: UsageRecorded, seq: number): NewUsageEventRow {
  return {
    event_id: event.eventId,
    occurred_at: event.occurredAt,
    key_id: event.keyId,
    account_id: event.accountId,
    environment: event.environment,
    outcome: event.outcome,
    reason: event.reason,
    permission: event.permission,
    method: event.method,
    path: event.path,
    client_ip: event.clientIp,
    user_agent: event.userAgent,
    request_id: event.requestId,
    hour_used: event.hourUsed,
    day_used: event.dayUsed,
    hour_limit: event.hourLimit,
    day_limit: event.dayLimit,
    stream_seq: seq,
  };
}

async function foldIntoWindows(trx: Kysely<Database>, events: readonly UsageRecorded[]) {
  const windows = foldWindows(events);
  if (windows.length === 0) return;
  await trx
    .insertInto('usage_windows')
    .values(
      windows.map((window) => ({
        key_id: window.keyId,
        granularity: window.granularity,
        window_start: window.windowStart,
        account_id: window.accountId,
        requests: window.requests,
        allowed: window.allowed,
        forbidden: window.forbidden,
        rate_limited: window.rateLimited,
        unauthorized: window.unauthorized,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['key_id', 'granularity', 'window_start']).doUpdateSet({
        account_id: sql`coalesce(usage_windows.account_id, excluded.account_id)`,
        requests: sql`usage_windows.requests + excluded.requests`,
        allowed: sql`usage_windows.allowed + excluded.allowed`,
        forbidden: sql`usage_windows.forbidden + excluded.forbidden`,
        rate_limited: sql`usage_windows.rate_limited + excluded.rate_limited`,
        unauthorized: sql`usage_windows.unauthorized + excluded.unauthorized`,
      }),
    )
    .execute();
}

async function touchLastUsed(trx: Kysely<Database>, events: readonly UsageRecorded[]) {
  const latest = new Map<string, { accountId: string | null; at: string }>();
  for (const event of events) {
    if (event.keyId === null) continue;
    const seen = latest.get(event.keyId);
    if (!seen || event.occurredAt > seen.at) latest.set(event.keyId, { accountId: event.accountId, at: event.occurredAt });
  }
  if (latest.size === 0) return;
  await trx
    .insertInto('key_last_used')
    .values([...latest].sort(([a], [b]) => (a < b ? -1 : 1)).map(([keyId, { accountId, at }]) => ({ key_id: keyId, account_id: accountId, last_used_at: at })))
    .onConflict((oc) =>
      oc.column('key_id').doUpdateSet({
        account_id: sql`coalesce(key_last_used.account_id, excluded.account_id)`,
        last_used_at: sql`greatest(key_last_used.last_used_at, excluded.last_used_at)`,
      }),
    )
    .execute();
}

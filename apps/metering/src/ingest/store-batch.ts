import { sql, type Kysely } from 'kysely';
import type { Alert, UsageRecorded } from '@keyplane/contracts';
import { lockIngest, takeIngestTurn } from '../db/ingest-lock.js';
import type { Database, KeyLastUsedTable, UsageEventsTable, UsageWindowsTable } from '../db/schema.js';
import { detectAlerts } from '../alerts/detect-alerts.js';
import { raiseAlerts } from '../alerts/alert-store.js';
import { hourKey, type HourHistory } from '../alerts/hour-history.js';
import type { AlertThresholds } from '../alerts/thresholds.js';
import { foldWindows, type WindowIncrement } from '../windows/fold-windows.js';
import { rawText, type ReadEntry, type Unreadable } from './read-usage-message.js';
import { conflictingDuplicates } from './conflicting-duplicates.js';
import { bigint, columnNames, text, timestamptz, unnestRows, type UnnestColumn } from '../db/unnest-rows.js';

/** An event read from the stream, with where it came from. */
type StreamEvent = { event: UsageRecorded; entry: ReadEntry };

export interface BatchOutcome {
  stored: number;
  duplicates: number;
  /** Events older than what the retention sweep has deleted: counted nowhere (see storeBatch). */
  pastRetention: number;
  deadLetters: DeadLetter[];
  alerts: Alert[];
}

export type DeadLetter = ReadEntry & { read: Unreadable };

export interface StoreOptions {
  thresholds: AlertThresholds;
  webhook: boolean;
  /** The usage spike detector's hours, kept from one batch to the next by this replica. */
  hourHistory: HourHistory;
}

/**
 * Stores one batch in one transaction: the events (idempotent by event id), the windows,
 * last-used times and detector state of only the newly stored ones, the alerts they raise,
 * and the unreadable messages. Acking after commit makes the whole pipeline exactly-once in
 * effect: a redelivered or replayed event finds its id taken and changes nothing.
 */
export async function storeBatch(db: Kysely<Database>, entries: readonly ReadEntry[], options: StoreOptions): Promise<BatchOutcome> {
  const unreadable = entries.filter((entry): entry is DeadLetter => !entry.read.ok);
  const { unique, repeats } = splitById(entries.flatMap((entry) => (entry.read.ok ? [{ event: entry.read.event, entry }] : [])));
  const { outcome, histories } = await db.transaction().execute(async (trx) => {
    // Detectors read what earlier batches stored; replicas take turns so none reads around another's uncommitted batch.
    await lockIngest(trx);
    const turn = await takeIngestTurn(trx);
    const events = await notSweptYet(trx, unique);
    const pastRetention = unique.length - events.length;
    const fresh = await storeEvents(trx, events);
    const freshIds = new Set(fresh.map((event) => event.eventId));
    const conflicts = await conflictingDuplicates(trx, eventColumns, [...events.filter(({ event }) => !freshIds.has(event.eventId)), ...repeats]);
    const deadLetters = [...unreadable, ...conflicts.map(({ repeat, columns }) => conflictLetter(repeat.entry, columns))];
    await storeDeadLetters(trx, deadLetters);
    const hours = await foldIntoWindows(trx, fresh);
    await touchLastUsed(trx, fresh);
    const histories = options.hourHistory.begin(turn, hours.increments);
    const candidates = await detectAlerts(trx, fresh, options.thresholds, { totals: hours.totals, histories });
    const alerts = await raiseAlerts(trx, candidates, { webhook: options.webhook });
    const stored = fresh.length;
    return { outcome: { stored, duplicates: entries.length - deadLetters.length - pastRetention - stored, pastRetention, deadLetters, alerts }, histories };
  });
  histories.commit();
  return outcome;
}

/** A repeated event id with other content: kept out of the counts, and set aside for whoever investigates. */
function conflictLetter({ seq, position, data }: ReadEntry, columns: readonly string[]): DeadLetter {
  const reason = `event id already stored with different content (${columns.join(', ')}); the first is kept`;
  return { seq, position, data, read: { ok: false, kind: 'conflicting_duplicate', reason, type: 'UsageRecorded', version: 1 } };
}

/**
 * An event older than what the retention sweep has deleted may have been counted and swept
 * already, and a swept event's id can no longer be recognised: counted again (a replay of the
 * stream, a late redelivery) it would be counted twice, so it is counted nowhere.
 */
async function notSweptYet(trx: Kysely<Database>, events: StreamEvent[]): Promise<StreamEvent[]> {
  const watermark = await trx.selectFrom('retention').select('swept_before').executeTakeFirst();
  if (!watermark) return events;
  const sweptBefore = watermark.swept_before.getTime();
  return events.filter(({ event }) => Date.parse(event.occurredAt) >= sweptBefore);
}

/** The first event of each id, and the later ones carrying an id already seen in the batch. */
function splitById(events: StreamEvent[]): { unique: StreamEvent[]; repeats: StreamEvent[] } {
  const byId = new Map<string, StreamEvent>();
  const repeats: StreamEvent[] = [];
  for (const entry of events) {
    if (byId.has(entry.event.eventId)) repeats.push(entry);
    else byId.set(entry.event.eventId, entry);
  }
  return { unique: [...byId.values()], repeats };
}

async function storeDeadLetters(trx: Kysely<Database>, deadLetters: readonly DeadLetter[]) {
  if (deadLetters.length === 0) return;
  await trx
    .insertInto('dead_letters')
    .values(
      deadLetters.map(({ seq, position, data, read }) => ({
        stream_seq: seq,
        batch_position: position,
        raw_payload: rawText(data),
        reason: read.reason,
        event_type: read.type,
        // The column is a Postgres integer; a version past it is kept in raw_payload only.
        event_version: read.version !== null && Math.abs(read.version) <= 2_147_483_647 ? read.version : null,
      })),
    )
    .onConflict((oc) => oc.columns(['stream_seq', 'batch_position']).doNothing())
    .execute();
}

const eventColumns = {
  event_id: text<StreamEvent>(({ event }) => event.eventId),
  occurred_at: timestamptz<StreamEvent>(({ event }) => event.occurredAt),
  key_id: text<StreamEvent>(({ event }) => event.keyId),
  account_id: text<StreamEvent>(({ event }) => event.accountId),
  environment: text<StreamEvent>(({ event }) => event.environment),
  outcome: text<StreamEvent>(({ event }) => event.outcome),
  reason: text<StreamEvent>(({ event }) => event.reason),
  permission: text<StreamEvent>(({ event }) => event.permission),
  method: text<StreamEvent>(({ event }) => event.method),
  path: text<StreamEvent>(({ event }) => event.path),
  client_ip: text<StreamEvent>(({ event }) => event.clientIp),
  user_agent: text<StreamEvent>(({ event }) => event.userAgent),
  request_id: text<StreamEvent>(({ event }) => event.requestId),
  hour_used: bigint<StreamEvent>(({ event }) => event.hourUsed),
  day_used: bigint<StreamEvent>(({ event }) => event.dayUsed),
  hour_limit: bigint<StreamEvent>(({ event }) => event.hourLimit),
  day_limit: bigint<StreamEvent>(({ event }) => event.dayLimit),
  stream_seq: bigint<StreamEvent>(({ entry }) => entry.seq),
} satisfies Partial<Record<keyof UsageEventsTable, UnnestColumn<StreamEvent>>>;

/** Inserts the events in one statement and returns those not stored before, sorted by event time. */
async function storeEvents(trx: Kysely<Database>, events: readonly StreamEvent[]): Promise<UsageRecorded[]> {
  if (events.length === 0) return [];
  const inserted = await trx
    .insertInto('usage_events')
    .columns(columnNames(eventColumns))
    .expression(unnestRows(events, eventColumns))
    .onConflict((oc) => oc.column('event_id').doNothing())
    .returning('event_id')
    .execute();
  const fresh = new Set(inserted.map((row) => row.event_id));
  return events
    .filter(({ event }) => fresh.has(event.eventId))
    .map(({ event }) => event)
    .sort((a, b) => (a.occurredAt === b.occurredAt ? (a.eventId < b.eventId ? -1 : 1) : a.occurredAt < b.occurredAt ? -1 : 1));
}

const windowColumns = {
  key_id: text<WindowIncrement>((window) => window.keyId),
  granularity: text<WindowIncrement>((window) => window.granularity),
  window_start: timestamptz<WindowIncrement>((window) => window.windowStart),
  account_id: text<WindowIncrement>((window) => window.accountId),
  requests: bigint<WindowIncrement>((window) => window.requests),
  allowed: bigint<WindowIncrement>((window) => window.allowed),
  forbidden: bigint<WindowIncrement>((window) => window.forbidden),
  rate_limited: bigint<WindowIncrement>((window) => window.rateLimited),
  unauthorized: bigint<WindowIncrement>((window) => window.unauthorized),
} satisfies Record<keyof UsageWindowsTable, UnnestColumn<WindowIncrement>>;

/**
 * One upsert of the batch's counts, summed per window in JS first. Returns the hour windows: what
 * the batch added to each, and each one's total now, for the usage spike detector.
 */
async function foldIntoWindows(trx: Kysely<Database>, events: readonly UsageRecorded[]) {
  const windows = foldWindows(events);
  const hourly = windows.filter((window) => window.granularity === 'hour');
  const increments = hourly.map(({ keyId, windowStart, requests }) => ({ keyId, hour: Date.parse(windowStart), requests }));
  if (windows.length === 0) return { increments, totals: new Map<string, number>() };
  const rows = await trx
    .insertInto('usage_windows')
    .columns(columnNames(windowColumns))
    .expression(unnestRows(windows, windowColumns))
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
    .returning(['key_id', 'granularity', 'window_start', 'requests'])
    .execute();
  const totals = new Map(rows.filter((row) => row.granularity === 'hour').map((row) => [hourKey(row.key_id, row.window_start.getTime()), row.requests]));
  return { increments, totals };
}

type LastUse = { keyId: string; accountId: string | null; at: string };

const lastUsedColumns = {
  key_id: text<LastUse>((use) => use.keyId),
  account_id: text<LastUse>((use) => use.accountId),
  last_used_at: timestamptz<LastUse>((use) => use.at),
} satisfies Record<keyof KeyLastUsedTable, UnnestColumn<LastUse>>;

/**
 * A key's last use is never later than now: an event stamped in the future (an auth replica whose
 * clock jumped ahead) is counted in its window like any other, but would otherwise set a
 * `lastUsedAt` that `greatest` keeps for good.
 */
async function touchLastUsed(trx: Kysely<Database>, events: readonly UsageRecorded[]) {
  const latest = new Map<string, LastUse>();
  for (const event of events) {
    if (event.keyId === null) continue;
    const seen = latest.get(event.keyId);
    if (!seen || Date.parse(event.occurredAt) > Date.parse(seen.at)) latest.set(event.keyId, { keyId: event.keyId, accountId: event.accountId, at: event.occurredAt });
  }
  if (latest.size === 0) return;
  const now = Date.now();
  for (const use of latest.values()) if (Date.parse(use.at) > now) use.at = new Date(now).toISOString();
  await trx
    .insertInto('key_last_used')
    .columns(columnNames(lastUsedColumns))
    .expression(unnestRows([...latest.values()].sort((a, b) => (a.keyId < b.keyId ? -1 : 1)), lastUsedColumns))
    .onConflict((oc) =>
      oc.column('key_id').doUpdateSet({
        account_id: sql`coalesce(key_last_used.account_id, excluded.account_id)`,
        last_used_at: sql`greatest(key_last_used.last_used_at, excluded.last_used_at)`,
      }),
    )
    .execute();
}

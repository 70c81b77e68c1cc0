import type { Kysely } from 'kysely';
import type { AlertType, UsageRecorded } from '@keyplane/contracts';
import { getOrCreate } from '@keyplane/runtime';
import type { Database } from '../db/schema.js';
import { HOUR_MS, isoOf, windowStart } from '../windows/utc-window.js';
import { dedupKey, uniqueCandidates, type AlertCandidate } from './alert-candidate.js';
import type { AlertThresholds } from './thresholds.js';
import { detectAuthFailureBursts } from './detectors/auth-failure-burst.js';
import { detectNewSources } from './detectors/new-source.js';
import { detectPermissionProbes } from './detectors/permission-probe.js';
import { detectQuotaExhausted } from './detectors/quota-exhausted.js';
import type { RecentEvent } from './detectors/recent-event.js';
import { burstEndHours } from './detectors/sliding-burst.js';
import { detectRevokedKeyUse } from './detectors/revoked-key-use.js';
import { detectUsageSpikes, type HourOfKey } from './detectors/usage-spike.js';
import { readNewSourceState, recordSources } from './new-source-state.js';
import { BASELINE_HOURS, hourKey, type BatchHistories } from './hour-history.js';

/** A batch's hour windows once folded in: each key's hour total by `hourKey`, and the hours before them. */
export interface FoldedHours {
  totals: ReadonlyMap<string, number>;
  histories: BatchHistories;
}

/**
 * Runs every detector over the events a batch newly stored, inside the batch's transaction,
 * after its windows are folded in: the state the detectors read (stored events, windows,
 * known sources) is Postgres, so a restart or another replica sees the same, and an event
 * redelivered is never fed twice. `events` must be sorted by occurredAt.
 */
export async function detectAlerts(trx: Kysely<Database>, events: readonly UsageRecorded[], thresholds: AlertThresholds, folded: FoldedHours): Promise<AlertCandidate[]> {
  if (events.length === 0) return [];
  const newIds = new Set(events.map((event) => event.eventId));
  const [failures, denials, hours, sourceState] = await Promise.all([
    recentBursts(trx, AUTH_FAILURES, events, thresholds.authFailureWindowSeconds * 1000, newIds),
    recentBursts(trx, PERMISSION_DENIALS, events, thresholds.permissionProbeWindowSeconds * 1000, newIds),
    hoursOfKeys(trx, events, folded),
    readNewSourceState(trx, events),
  ]);
  const newSources = detectNewSources(events, sourceState, thresholds);
  await recordSources(trx, newSources.uses);
  return uniqueCandidates([
    ...detectQuotaExhausted(events),
    ...detectRevokedKeyUse(events),
    ...detectAuthFailureBursts(failures, thresholds),
    ...detectPermissionProbes(denials, thresholds),
    ...detectUsageSpikes(hours, thresholds),
    ...newSources.candidates,
  ]);
}

/** What a sliding-window burst detector counts, and what it counts it per. */
interface BurstKind {
  type: Extract<AlertType, 'auth_failure_burst' | 'permission_probe'>;
  outcome: 'unauthorized' | 'forbidden';
  column: 'client_ip' | 'key_id';
  /** The alert's subject for one group: `ip:<address>` or the key id. */
  subjectOf: (group: string) => string;
}

/** 401s per client address. */
const AUTH_FAILURES: BurstKind = { type: 'auth_failure_burst', outcome: 'unauthorized', column: 'client_ip', subjectOf: (ip) => `ip:${ip}` };
/** 403s per key. */
const PERMISSION_DENIALS: BurstKind = { type: 'permission_probe', outcome: 'forbidden', column: 'key_id', subjectOf: (keyId) => keyId };

/** The stored events of `kind` around the batch's, per group: any window one of them can close. */
async function recentBursts(trx: Kysely<Database>, kind: BurstKind, batch: readonly UsageRecorded[], windowMs: number, newIds: ReadonlySet<string>) {
  const groupOf = (event: UsageRecorded) => (kind.column === 'client_ip' ? event.clientIp : event.keyId);
  const events = batch.filter((event) => event.outcome === kind.outcome && groupOf(event) !== null);
  const groups = await unalerted(trx, kind.type, events, (event) => groupOf(event) as string, kind.subjectOf, windowMs);
  if (groups.length === 0) return new Map<string, RecentEvent[]>();
  const { from, to } = span(events, windowMs);
  const rows = await trx
    .selectFrom('usage_events')
    .select(['event_id', 'occurred_at', 'key_id', 'account_id', 'client_ip', 'permission'])
    .where('outcome', '=', kind.outcome)
    .where(kind.column, 'in', groups)
    .where('occurred_at', '>=', from)
    .where('occurred_at', '<=', to)
    .orderBy('occurred_at')
    .orderBy('event_id')
    .execute();
  return groupBy(rows, (row) => row[kind.column] as string, newIds);
}

/**
 * The client addresses or keys of the batch's events worth reading stored events for: those
 * with an hour a window holding one of their new events can end in that has no `type` alert
 * yet. Once an attack has its alert for the hour, its flood of stored events is not read again
 * batch after batch: whatever a detector found there would be a duplicate, stored nowhere.
 */
async function unalerted(
  trx: Kysely<Database>,
  type: AlertType,
  events: readonly UsageRecorded[],
  groupOf: (event: UsageRecorded) => string,
  subjectOf: (group: string) => string,
  windowMs: number,
): Promise<string[]> {
  const times = new Map<string, number[]>();
  for (const event of events) {
    getOrCreate(times, groupOf(event), () => []).push(Date.parse(event.occurredAt));
  }
  if (times.size === 0) return [];
  const dedupKeys = new Map(
    [...times].map(([group, at]) => [group, burstEndHours(at, windowMs).map((hour) => dedupKey({ type, subject: subjectOf(group), windowStart: isoOf(hour) }))]),
  );
  const raised = await trx.selectFrom('alerts').select('dedup_key').where('dedup_key', 'in', [...dedupKeys.values()].flat()).execute();
  const taken = new Set(raised.map((row) => row.dedup_key));
  return [...dedupKeys].filter(([, keys]) => keys.some((key) => !taken.has(key))).map(([group]) => group);
}

function span(events: readonly UsageRecorded[], windowMs: number) {
  const times = events.map((event) => Date.parse(event.occurredAt));
  return { from: new Date(Math.min(...times) - windowMs), to: new Date(Math.max(...times) + windowMs) };
}

type RecentRow = { event_id: string; occurred_at: Date; key_id: string | null; account_id: string | null; client_ip: string; permission: string | null };

function groupBy(rows: readonly RecentRow[], subjectOf: (row: RecentRow) => string, newIds: ReadonlySet<string>): Map<string, RecentEvent[]> {
  const groups = new Map<string, RecentEvent[]>();
  for (const row of rows) {
    getOrCreate(groups, subjectOf(row), () => []).push({
      eventId: row.event_id,
      at: row.occurred_at.getTime(),
      isNew: newIds.has(row.event_id),
      keyId: row.key_id,
      accountId: row.account_id,
      clientIp: row.client_ip,
      permission: row.permission,
    });
  }
  return groups;
}

/**
 * Each key's hours this batch touched, with their totals (this batch's included, as the fold
 * returned them) and the 24 hours before: kept from earlier batches where `histories` can vouch
 * for them, read otherwise.
 */
async function hoursOfKeys(trx: Kysely<Database>, events: readonly UsageRecorded[], { histories, totals }: FoldedHours): Promise<HourOfKey[]> {
  const touched = new Map<string, { keyId: string; accountId: string | null; hour: number; times: string[] }>();
  for (const event of events) {
    if (event.keyId === null) continue;
    const hour = windowStart(Date.parse(event.occurredAt), 'hour');
    const keyId = event.keyId;
    getOrCreate(touched, hourKey(keyId, hour), () => ({ keyId, accountId: event.accountId, hour, times: [] })).times.push(event.occurredAt);
  }
  const known = new Map<string, readonly number[]>();
  const missing: { keyId: string; hour: number }[] = [];
  for (const [id, entry] of touched) {
    const history = histories.lookup(entry.keyId, entry.hour);
    if (history) known.set(id, history);
    else missing.push(entry);
  }
  if (missing.length > 0) {
    for (const [id, { keyId, hour, history }] of await readHistories(trx, missing)) {
      known.set(id, history);
      histories.learned(keyId, hour, history);
    }
  }
  return [...touched].map(([id, entry]) => ({
    keyId: entry.keyId,
    accountId: entry.accountId,
    hourStart: isoOf(entry.hour),
    requests: totals.get(id) ?? 0,
    history: known.get(id)!,
    newEventTimes: entry.times,
  }));
}

/** The 24 hours before each key's hour, as stored now (this batch's windows folded in). */
async function readHistories(trx: Kysely<Database>, wanted: readonly { keyId: string; hour: number }[]) {
  const hours = wanted.map((entry) => entry.hour);
  const rows = await trx
    .selectFrom('usage_windows')
    .select(['key_id', 'window_start', 'requests'])
    .where('granularity', '=', 'hour')
    .where('key_id', 'in', [...new Set(wanted.map((entry) => entry.keyId))])
    .where('window_start', '>=', new Date(Math.min(...hours) - BASELINE_HOURS * HOUR_MS))
    .where('window_start', '<', new Date(Math.max(...hours)))
    .execute();
  const requestsByHour = new Map<string, Map<number, number>>();
  for (const row of rows) getOrCreate(requestsByHour, row.key_id, () => new Map()).set(row.window_start.getTime(), row.requests);
  return new Map(
    wanted.map(({ keyId, hour }) => {
      const byHour = requestsByHour.get(keyId);
      const history = Array.from({ length: BASELINE_HOURS }, (_, index) => byHour?.get(hour - (BASELINE_HOURS - index) * HOUR_MS) ?? 0);
      return [hourKey(keyId, hour), { keyId, hour, history }];
    }),
  );
}

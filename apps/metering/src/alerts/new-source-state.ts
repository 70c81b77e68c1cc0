import type { Kysely } from 'kysely';
import type { UsageRecorded } from '@keyplane/contracts';
import { getOrCreate } from '@keyplane/runtime';
import type { Database, KeySourcesTable } from '../db/schema.js';
import { bigint, columnNames, text, timestamptz, unnestRows, type UnnestColumn } from '../db/unnest-rows.js';
import { HOUR_MS, windowStart } from '../windows/utc-window.js';
import { hourOfKey, type KeySources, type NewSourceState, type SourceUse } from './detectors/new-source.js';

/** Each key's known addresses, and its new_source alerts of the hours the batch may add to. */
export async function readNewSourceState(trx: Kysely<Database>, events: readonly UsageRecorded[]): Promise<NewSourceState> {
  const sources = await knownSources(trx, events);
  return { sources, alertsPerHour: await alertsPerHour(trx, events, sources) };
}

async function knownSources(trx: Kysely<Database>, events: readonly UsageRecorded[]): Promise<Map<string, KeySources>> {
  const keyIds = [...new Set(events.flatMap((event) => (event.keyId === null ? [] : [event.keyId])))];
  if (keyIds.length === 0) return new Map();
  const ips = [...new Set(events.map((event) => event.clientIp))];
  const [totals, known] = await Promise.all([
    trx
      .selectFrom('key_sources')
      .select((eb) => ['key_id', eb.fn.min('first_seen_at').as('first_seen_at'), eb.fn.sum<number>('requests').as('requests'), eb.fn.countAll<number>().as('sources')])
      .where('key_id', 'in', keyIds)
      .groupBy('key_id')
      .execute(),
    trx.selectFrom('key_sources').select(['key_id', 'client_ip']).where('key_id', 'in', keyIds).where('client_ip', 'in', ips).execute(),
  ]);
  const knownIps = new Map<string, Set<string>>();
  for (const use of known) getOrCreate(knownIps, use.key_id, () => new Set()).add(use.client_ip);
  const sources = new Map<string, KeySources>();
  for (const row of totals) {
    sources.set(row.key_id, { firstSeenAt: row.first_seen_at.getTime(), requests: Number(row.requests), sourceCount: Number(row.sources), known: knownIps.get(row.key_id) ?? new Set() });
  }
  return sources;
}

/**
 * The new_source alerts already raised in the hours of the batch's events from addresses their
 * key was not seen from. Only a key seen before can have any (an alert and its address are
 * stored together), and almost every batch has no such event, so this reads nothing then.
 */
async function alertsPerHour(trx: Kysely<Database>, events: readonly UsageRecorded[], sources: ReadonlyMap<string, KeySources>): Promise<Map<string, number>> {
  const unknown = events.filter((event) => event.keyId !== null && event.accountId !== null && sources.get(event.keyId)?.known.has(event.clientIp) === false);
  if (unknown.length === 0) return new Map();
  const hours = unknown.map((event) => windowStart(Date.parse(event.occurredAt), 'hour'));
  const rows = await trx
    .selectFrom('alerts')
    .select(['key_id', 'detected_at'])
    .where('account_id', 'in', [...new Set(unknown.map((event) => event.accountId as string))])
    .where('key_id', 'in', [...new Set(unknown.map((event) => event.keyId as string))])
    .where('type', '=', 'new_source')
    .where('detected_at', '>=', new Date(Math.min(...hours)))
    .where('detected_at', '<', new Date(Math.max(...hours) + HOUR_MS))
    .execute();
  const counts = new Map<string, number>();
  for (const row of rows) {
    const hour = hourOfKey(row.key_id as string, row.detected_at.getTime());
    counts.set(hour, (counts.get(hour) ?? 0) + 1);
  }
  return counts;
}

const sourceColumns = {
  key_id: text<SourceUse>((use) => use.keyId),
  client_ip: text<SourceUse>((use) => use.clientIp),
  first_seen_at: timestamptz<SourceUse>((use) => use.firstSeenAt),
  last_seen_at: timestamptz<SourceUse>((use) => use.lastSeenAt),
  requests: bigint<SourceUse>((use) => use.requests),
} satisfies Record<keyof KeySourcesTable, UnnestColumn<SourceUse>>;

export async function recordSources(trx: Kysely<Database>, uses: readonly SourceUse[]): Promise<void> {
  if (uses.length === 0) return;
  await trx
    .insertInto('key_sources')
    .columns(columnNames(sourceColumns))
    .expression(unnestRows(uses, sourceColumns))
    .onConflict((oc) =>
      oc.columns(['key_id', 'client_ip']).doUpdateSet((eb) => ({
        first_seen_at: eb.fn('least', [eb.ref('key_sources.first_seen_at'), eb.ref('excluded.first_seen_at')]),
        last_seen_at: eb.fn('greatest', [eb.ref('key_sources.last_seen_at'), eb.ref('excluded.last_seen_at')]),
        requests: eb(eb.ref('key_sources.requests'), '+', eb.ref('excluded.requests')),
      })),
    )
    .execute();
}

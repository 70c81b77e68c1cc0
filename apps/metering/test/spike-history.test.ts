import { TableNode, type Kysely, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { createKysely, migrateToLatest } from '@keyplane/database';
import { eventsInHour, freshDatabase, keyIdOf, type FreshDatabase } from '@keyplane/testing';
import type { UsageRecorded } from '@keyplane/contracts';
import { HourHistory } from '../src/alerts/hour-history.js';
import { DEFAULT_THRESHOLDS } from '../src/alerts/thresholds.js';
import { migrations } from '../src/db/migrations/index.js';
import { METERING_SCHEMA as SCHEMA, type Database } from '../src/db/schema.js';
import { storeBatch } from '../src/ingest/store-batch.js';

// The usage spike detector's 24 hours before a key's hour are kept by each replica between its
// batches (alerts/hour-history.ts). Two replicas here store batches in turn on one real Postgres,
// each with its own memory, as two metering pods on one durable do.

const H = Date.parse('2026-11-20T10:00:00.000Z');
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const key = keyIdOf('spiky');

/** Records the tables each SELECT reads, so a test can see which batches read windows. */
class SelectedTables implements KyselyPlugin {
  readonly tables: string[] = [];
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind === 'SelectQueryNode') {
      for (const from of node.from?.froms ?? []) if (TableNode.is(from)) this.tables.push(from.table.identifier.name);
    }
    return node;
  }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

let database: FreshDatabase;
let root: Kysely<Database>;

beforeAll(async () => {
  database = await freshDatabase('spike_history');
  root = createKysely<Database>({ url: database.url, max: 4 });
  await migrateToLatest(root as Kysely<unknown>, SCHEMA, migrations);
});

afterAll(async () => {
  await root?.destroy();
  await database?.drop();
});

function replica() {
  const selected = new SelectedTables();
  const db = root.withSchema(SCHEMA).withPlugin(selected);
  const options = { thresholds: DEFAULT_THRESHOLDS, webhook: false, hourHistory: new HourHistory() };
  let seq = 0;
  return {
    selected,
    store: (events: UsageRecorded[]) => storeBatch(db, events.map((event) => ({ seq: ++seq, position: 0, data: new Uint8Array(), read: { ok: true, event } })), options),
  };
}

const spikes = async () => {
  const rows = await root.withSchema(SCHEMA).selectFrom('alerts').select(['key_id', 'evidence']).where('type', '=', 'usage_spike').where('key_id', '=', key).execute();
  return rows.map((row) => ({ keyId: row.key_id, hourStart: row.evidence.hourStart, threshold: row.evidence.threshold, baselineMedian: row.evidence.baselineMedian }));
};

describe('the usage spike baseline kept between batches', () => {
  it('is read again when another replica stored a batch in between: a late event it folded counts', async () => {
    const a = replica();
    const b = replica();
    // Five active hours before H: one short of the six a key needs for a baseline (DEFAULT_THRESHOLDS).
    for (let hour = 1; hour <= 5; hour++) await a.store(eventsInHour(iso(H - hour * HOUR), 20, { keyId: key }));
    await a.store(eventsInHour(iso(H), 50, { keyId: key }));
    // Replica B folds late events into a sixth hour before H: from now on the key has a baseline (median 20, threshold 100).
    await b.store(eventsInHour(iso(H - 10 * HOUR), 10, { keyId: key }));

    // Replica A takes H to 110 requests: a spike against the baseline Postgres holds now.
    await a.store(eventsInHour(iso(H), 60, { keyId: key }));

    expect(await spikes()).toEqual([{ keyId: key, hourStart: iso(H), threshold: 100, baselineMedian: 20 }]);
  });

  it('is read once for a key’s hour, then kept and brought up to date by the replica’s own batches', async () => {
    const spiky = keyIdOf('steady');
    const a = replica();
    await a.store(eventsInHour(iso(H + 24 * HOUR), 5, { keyId: spiky }));
    expect(a.selected.tables.filter((table) => table === 'usage_windows')).toHaveLength(1);

    // Late events into an hour before (its own), then more in the hour: no window read again.
    await a.store(eventsInHour(iso(H + 20 * HOUR), 7, { keyId: spiky }));
    await a.store(eventsInHour(iso(H + 24 * HOUR + 60_000), 5, { keyId: spiky }));
    expect(a.selected.tables.filter((table) => table === 'usage_windows')).toHaveLength(2);
  });
});

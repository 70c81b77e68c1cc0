import type { Migration } from 'kysely';
import { meteringTables } from './2026_11_26_0001_metering_tables.js';
import { deadLetterBatchPosition } from './2026_11_26_0002_dead_letter_batch_position.js';
import { retentionWatermark } from './2026_11_26_0003_retention_watermark.js';
import { queryIndexes } from './2026_11_27_0004_query_indexes.js';
import { ingestTurns } from './2026_11_27_0005_ingest_turns.js';

export const migrations: Record<string, Migration> = {
  '2026_11_26_0001_metering_tables': meteringTables,
  '2026_11_26_0002_dead_letter_batch_position': deadLetterBatchPosition,
  '2026_11_26_0003_retention_watermark': retentionWatermark,
  '2026_11_27_0004_query_indexes': queryIndexes,
  '2026_11_27_0005_ingest_turns': ingestTurns,
};

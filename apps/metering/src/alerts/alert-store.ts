import type { Kysely } from 'kysely';
import type { Alert, AlertType, Severity } from '@keyplane/contracts';
import type { AlertRow, Database } from '../db/schema.js';
import { alertId, dedupKey, type AlertCandidate } from './alert-candidate.js';

/**
 * Stores the candidates whose dedup key is new and returns them as alerts: the same anomaly
 * seen again (a repeated trigger, a redelivered batch, another replica) stores nothing. With a
 * webhook configured each new alert also gets a pending delivery, in the same transaction.
 */
export async function raiseAlerts(trx: Kysely<Database>, candidates: readonly AlertCandidate[], { webhook }: { webhook: boolean }): Promise<Alert[]> {
  if (candidates.length === 0) return [];
  const now = new Date();
  const rows = await trx
    .insertInto('alerts')
    .values(
      candidates.map((candidate) => ({
        id: alertId(candidate),
        dedup_key: dedupKey(candidate),
        type: candidate.type,
        severity: candidate.severity,
        key_id: candidate.keyId,
        account_id: candidate.accountId,
        // An event stamped in the future (an auth replica whose clock ran ahead) would keep its alert atop the newest-first list until then.
        detected_at: Date.parse(candidate.detectedAt) > now.getTime() ? now : candidate.detectedAt,
        summary: candidate.summary,
        evidence: JSON.stringify(candidate.evidence),
      })),
    )
    .onConflict((oc) => oc.column('dedup_key').doNothing())
    .returningAll()
    .execute();
  if (webhook && rows.length > 0) {
    await trx
      .insertInto('alert_deliveries')
      .values(rows.map((row) => ({ alert_id: row.id, next_attempt_at: now, last_error: null })))
      .execute();
  }
  return rows.map(toAlert).sort((a, b) => (a.detectedAt < b.detectedAt ? -1 : a.detectedAt > b.detectedAt ? 1 : 0));
}

export function toAlert(row: AlertRow): Alert {
  return {
    id: row.id,
    type: row.type as AlertType,
    severity: row.severity as Severity,
    keyId: row.key_id,
    accountId: row.account_id,
    detectedAt: row.detected_at.toISOString(),
    summary: row.summary,
    evidence: row.evidence,
  };
}

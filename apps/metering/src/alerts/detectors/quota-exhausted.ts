import type { UsageRecorded } from '@keyplane/contracts';
import { isoOf, windowStart } from '../../windows/utc-window.js';
import type { AlertCandidate } from '../alert-candidate.js';

/** quota_exhausted: a key hit its limit; once per key and quota window (the hour, or the day). */
export function detectQuotaExhausted(events: readonly UsageRecorded[]): AlertCandidate[] {
  return events.flatMap((event) => {
    if (event.outcome !== 'rate_limited' || event.keyId === null) return [];
    const window = event.reason === 'day_limit' ? 'day' : 'hour';
    const start = isoOf(windowStart(Date.parse(event.occurredAt), window));
    const limit = window === 'day' ? event.dayLimit : event.hourLimit;
    const used = window === 'day' ? event.dayUsed : event.hourUsed;
    const which = window === 'day' ? 'daily' : 'hourly';
    return [
      {
        type: 'quota_exhausted',
        severity: 'warning',
        subject: event.keyId,
        windowStart: start,
        keyId: event.keyId,
        accountId: event.accountId,
        detectedAt: event.occurredAt,
        summary: limit === null ? `Key ${event.keyId} reached its ${which} limit` : `Key ${event.keyId} reached its ${which} limit of ${limit} requests`,
        evidence: { window, windowStart: start, limit, used, eventId: event.eventId },
      },
    ];
  });
}

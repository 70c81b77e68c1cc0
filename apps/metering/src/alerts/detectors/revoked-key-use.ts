import type { UsageRecorded } from '@keyplane/contracts';
import { HOUR_MS, isoOf, windowStart } from '../../windows/utc-window.js';
import type { AlertCandidate } from '../alert-candidate.js';

/** revoked_key_use: a revoked or rotated-out secret presented again; once per key (or address) and hour. */
export function detectRevokedKeyUse(events: readonly UsageRecorded[]): AlertCandidate[] {
  return events.flatMap((event) => {
    if (event.outcome !== 'unauthorized' || (event.reason !== 'revoked' && event.reason !== 'rotated_out')) return [];
    const what = event.reason === 'revoked' ? 'revoked key' : 'rotated-out secret';
    const whose = event.keyId ? ` of ${event.keyId}` : '';
    return [
      {
        type: 'revoked_key_use',
        severity: 'critical',
        subject: event.keyId ?? `ip:${event.clientIp}`,
        windowStart: isoOf(windowStart(Date.parse(event.occurredAt), 'hour')),
        keyId: event.keyId,
        accountId: event.accountId,
        detectedAt: event.occurredAt,
        summary: `A ${what}${whose} was used from ${event.clientIp}`,
        evidence: {
          reason: event.reason,
          clientIp: event.clientIp,
          userAgent: event.userAgent,
          method: event.method,
          path: event.path,
          eventId: event.eventId,
          windowSeconds: HOUR_MS / 1000,
        },
      },
    ];
  });
}

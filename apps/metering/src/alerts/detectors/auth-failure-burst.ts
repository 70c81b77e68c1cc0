import { isoOf, windowStart } from '../../windows/utc-window.js';
import type { AlertCandidate } from '../alert-candidate.js';
import type { AlertThresholds } from '../thresholds.js';
import type { RecentEvent } from './recent-event.js';
import { slidingBursts } from './sliding-burst.js';
import { durationText } from '../duration-text.js';

/**
 * auth_failure_burst: at least `authFailureThreshold` 401s from one client address within
 * `authFailureWindowSeconds`; once per address and hour however long the attack lasts.
 */
export function detectAuthFailureBursts(failuresByIp: ReadonlyMap<string, readonly RecentEvent[]>, thresholds: AlertThresholds): AlertCandidate[] {
  const windowSeconds = thresholds.authFailureWindowSeconds;
  return [...failuresByIp].flatMap(([clientIp, failures]) =>
    slidingBursts(failures, windowSeconds * 1000, thresholds.authFailureThreshold).map(({ first, last }): AlertCandidate => {
      const count = last - first + 1;
      const detectedAt = isoOf(failures[last].at);
      return {
        type: 'auth_failure_burst',
        severity: 'warning',
        subject: `ip:${clientIp}`,
        windowStart: isoOf(windowStart(failures[last].at, 'hour')),
        keyId: null,
        accountId: null,
        detectedAt,
        summary: `${count} failed authentications from ${clientIp} within ${durationText(windowSeconds)}`,
        evidence: { clientIp, failures: count, windowSeconds, firstAt: isoOf(failures[first].at), lastAt: detectedAt },
      };
    }),
  );
}

import { isoOf, windowStart } from '../../windows/utc-window.js';
import type { AlertCandidate } from '../alert-candidate.js';
import type { AlertThresholds } from '../thresholds.js';
import type { RecentEvent } from './recent-event.js';
import { slidingBursts } from './sliding-burst.js';
import { durationText } from '../duration-text.js';

/**
 * permission_probe: at least `permissionProbeThreshold` 403s on one key within
 * `permissionProbeWindowSeconds` (someone trying what else the key can do); once per key and hour.
 */
export function detectPermissionProbes(forbiddenByKey: ReadonlyMap<string, readonly RecentEvent[]>, thresholds: AlertThresholds): AlertCandidate[] {
  const windowSeconds = thresholds.permissionProbeWindowSeconds;
  return [...forbiddenByKey].flatMap(([keyId, denials]) =>
    slidingBursts(denials, windowSeconds * 1000, thresholds.permissionProbeThreshold).map(({ first, last }): AlertCandidate => {
      const inWindow = denials.slice(first, last + 1);
      const detectedAt = isoOf(denials[last].at);
      return {
        type: 'permission_probe',
        severity: 'warning',
        subject: keyId,
        windowStart: isoOf(windowStart(denials[last].at, 'hour')),
        keyId,
        accountId: denials[last].accountId,
        detectedAt,
        summary: `${inWindow.length} requests of key ${keyId} were refused for missing permissions within ${durationText(windowSeconds)}`,
        evidence: {
          forbidden: inWindow.length,
          windowSeconds,
          firstAt: isoOf(denials[first].at),
          lastAt: detectedAt,
          permissions: distinct(inWindow.map((event) => event.permission)),
          clientIps: distinct(inWindow.map((event) => event.clientIp)),
        },
      };
    }),
  );
}

const distinct = (values: readonly (string | null)[]): string[] => [...new Set(values.filter((value): value is string => value !== null))].sort();
